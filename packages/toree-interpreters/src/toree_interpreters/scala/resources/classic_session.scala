// The names a Spark shell defines, on the classic session of the driver JVM the REPL runs in.
val spark = org.apache.spark.sql.SparkSession.active
val sc = spark.sparkContext
val sqlContext = spark.sqlContext
import spark.implicits._
