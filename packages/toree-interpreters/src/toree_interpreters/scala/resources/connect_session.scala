// The names a Spark shell defines, on the Spark Connect server's session the kernel's languages share.
// A template ($url, $class_dir, $remote) of REPL lines: read by toree_interpreters/scala/connect_repl.py.
// REPL line
@transient val spark = org.apache.spark.sql.toree.ToreeConnect.session("$url")
@transient lazy val sc: org.apache.spark.SparkContext = throw new org.apache.spark.sql.toree.SparkConnectUnsupported(
  "sc: the SparkContext (sc, RDDs) is not available with Spark Connect (the kernel uses $remote): use the " +
  "DataFrame and Dataset API or SQL, or start the kernel without --remote / SPARK_REMOTE")
import spark.implicits._
// REPL line
spark.registerClassFinder(new org.apache.spark.sql.toree.ToreeClassFinder(java.nio.file.Paths.get("$class_dir")))
toreeRunner.onThread = (tag: String) => { spark.clearTags(); if (tag != null) spark.addTag(tag) }
@transient val toreeConnect = org.apache.spark.sql.toree.ToreeConnect
