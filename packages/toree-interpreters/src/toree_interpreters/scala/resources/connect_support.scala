// Spark Connect helpers compiled as a file of their own (a package is needed: Artifact is private[sql]).
// Read by toree_interpreters/scala/connect_repl.py.
package org.apache.spark.sql.toree

/** The classes the REPL compiled since the last call: the client uploads them to the server before each
  * operation, so closures, UDFs and case classes of cells load there. */
class ToreeClassFinder(dir: java.nio.file.Path) extends org.apache.spark.sql.connect.client.ClassFinder {
  private val seen = new java.util.concurrent.ConcurrentHashMap[java.nio.file.Path, java.lang.Long]()
  override def findClasses(): Iterator[org.apache.spark.sql.Artifact] = {
    import scala.jdk.CollectionConverters._
    val files = java.nio.file.Files.walk(dir)
    try files.iterator().asScala.filter(_.toString.endsWith(".class")).filter { p =>
        val modified = java.nio.file.Files.getLastModifiedTime(p).toMillis
        val before = seen.put(p, modified)
        before == null || before.longValue != modified
      }.map { p =>
        org.apache.spark.sql.Artifact.newClassArtifact(dir.relativize(p), new org.apache.spark.sql.Artifact.LocalFile(p))
      }.toList.iterator
    finally files.close()
  }
}

/** What needs a SparkContext in the kernel (sc, RDDs), asked of a Spark Connect session. */
class SparkConnectUnsupported(message: String) extends UnsupportedOperationException(message)

object ToreeConnect {
  /** A new client session of `url` that gives up on a server that went away after ~3 s (the default
    * retries for ~10 minutes: a cell would hang that long). */
  def session(url: String): org.apache.spark.sql.connect.SparkSession = {
    import org.apache.spark.sql.connect.client.{RetryPolicy, SparkConnectClient}
    val retries = RetryPolicy.defaultPolicy().copy(
      maxRetries = Some(4), maxBackoff = Some(scala.concurrent.duration.Duration(2, "s")))
    val builder = SparkConnectClient.builder().connectionString(url).retryPolicy(retries)
    // By reflection: the method's Scala signature names gRPC's unshaded package, which is not on the classpath.
    classOf[SparkConnectClient.Builder].getMethod("interceptor", classOf[org.sparkproject.io.grpc.ClientInterceptor])
      .invoke(builder, ToreeProgress)
    val client = builder.build()
    org.apache.spark.sql.connect.SparkSession.builder().client(client).create()
  }

  /** `value` as temp view `name` of the server-side session, for Python to read a Dataset the REPL made
    * (py4j cannot call the client's Dataset itself: its reflection loads classic classes this JVM lacks). */
  def view(value: AnyRef, name: String): Boolean = value match {
    case ds: org.apache.spark.sql.Dataset[_] => ds.createOrReplaceTempView(name); true
    case _ => false
  }

  val progress: ToreeProgress.type = ToreeProgress
}

/** The server's progress reports on the kernel's tagged operations (the JVM client has no progress handler
  * of its own): seen on their way to the client, kept for Python's progress display to poll by tag. */
object ToreeProgress extends org.sparkproject.io.grpc.ClientInterceptor {
  import org.apache.spark.connect.proto
  import org.sparkproject.io.grpc._
  import scala.jdk.CollectionConverters._

  private class Operation(val tags: Set[String]) {
    @volatile var report = "[]" // the stages, as JSON
    @volatile var inflight = 0
    @volatile var done = false
  }
  private val operations = new java.util.concurrent.ConcurrentHashMap[String, Operation]()
  private val watched = new java.util.LinkedHashSet[String]() // the latest cells' tags (bounded)

  /** Keep the reports on operations tagged `tag` (a cell with its progress shown), and no longer those of
    * cells long gone. */
  def watch(tag: String): Unit = watched.synchronized {
    watched.add(tag)
    while (watched.size > 8) watched.remove(watched.iterator.next())
    operations.values.removeIf(op => !op.tags.exists(watched.contains))
  }
  private def isWatched(tags: Iterable[String]): Boolean = watched.synchronized(tags.exists(watched.contains))

  override def interceptCall[Q, R](method: MethodDescriptor[Q, R], options: CallOptions,
                                   next: Channel): ClientCall[Q, R] =
    new ForwardingClientCall.SimpleForwardingClientCall[Q, R](next.newCall(method, options)) {
      @volatile private var id: String = null // the operation this call runs or reattaches to
      @volatile private var operation: Operation = null

      override def sendMessage(message: Q): Unit = {
        message match {
          case r: proto.ExecutePlanRequest if isWatched(r.getTagsList.asScala) =>
            operation = new Operation(r.getTagsList.asScala.toSet)
            if (r.hasOperationId) { id = r.getOperationId; operations.put(id, operation) }
          case r: proto.ReattachExecuteRequest => id = r.getOperationId; operation = operations.get(id)
          case _ =>
        }
        super.sendMessage(message)
      }

      override def start(listener: ClientCall.Listener[R], headers: Metadata): Unit =
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener[R](listener) {
          override def onMessage(message: R): Unit = {
            (message, operation) match {
              case (r: proto.ExecutePlanResponse, op) if op != null =>
                if (id == null) { id = r.getOperationId; operations.put(id, op) }
                if (r.hasExecutionProgress) {
                  val progress = r.getExecutionProgress
                  op.report = progress.getStagesList.asScala.map { s =>
                    s"[${s.getStageId}, ${s.getNumTasks}, ${s.getNumCompletedTasks}, ${s.getDone}]"
                  }.mkString("[", ", ", "]")
                  op.inflight = progress.getNumInflightTasks.toInt
                  op.done = false
                }
                if (r.hasResultComplete) op.done = true
              case _ =>
            }
            super.onMessage(message)
          }
          override def onClose(status: Status, trailers: Metadata): Unit = {
            if (operation != null) operation.done = true // a reattach may go on: its reports say so
            super.onClose(status, trailers)
          }
        }, headers)
    }

  /** `[[operation id, done, tasks in flight, [[stage, tasks, completed, done], ...]], ...]` for `tag`;
    * a finished operation is reported once more after its end, then forgotten. */
  def snapshot(tag: String): String = operations.asScala.toList.collect {
    case (id, op) if op.tags.contains(tag) =>
      if (op.done) operations.remove(id)
      s"""["$id", ${op.done}, ${op.inflight}, ${op.report}]"""
  }.mkString("[", ", ", "]")
}
