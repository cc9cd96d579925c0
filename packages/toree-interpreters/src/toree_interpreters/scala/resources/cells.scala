// How Scala cells run: each on a fresh JVM thread of its own, with Scala's and Java's standard
// streams pointed into buffers Python drains while the cell runs (and Java's put back after it).
// Read by toree_interpreters/scala/bridge.py and interpreted once, before the first cell.

class ToreeStream extends java.io.OutputStream {
  private val buf = new java.io.ByteArrayOutputStream()
  override def write(b: Int): Unit = buf.synchronized { buf.write(b) }
  override def write(b: Array[Byte], off: Int, len: Int): Unit = buf.synchronized { buf.write(b, off, len) }
  def drain(): String = buf.synchronized { val s = buf.toString("UTF-8"); buf.reset(); s }
}

// A cell's stdout or stderr: the shared buffer, until the cell is abandoned (then the host's stream,
// so a runaway line's output does not land in later cells).
class ToreeRedirect(@volatile var to: java.io.OutputStream) extends java.io.OutputStream {
  override def write(b: Int): Unit = to.write(b)
  override def write(b: Array[Byte], off: Int, len: Int): Unit = to.write(b, off, len)
  override def flush(): Unit = to.flush()
}

class ToreeRunner(out: ToreeStream, err: ToreeStream) {
  private class Cell(val thread: Thread, val status: java.util.concurrent.CompletableFuture[String],
                     val out: ToreeRedirect, val err: ToreeRedirect,
                     val cancelled: java.util.concurrent.atomic.AtomicBoolean) {
    @volatile var stopTried = false
  }
  @volatile private var current: Cell = null
  // Spark Connect: what each cell's thread does first (the client's operation tags are per thread).
  @volatile var onThread: String => Unit = (_: String) => ()
  @volatile private var tag: String = null
  def setTag(t: String): Unit = tag = t
  private val cells = new java.util.concurrent.atomic.AtomicInteger()

  /** Interprets `lines` one after another, as a REPL takes them, on one new thread (it inherits the
    * caller's Spark job group, and a cell's statements share its thread-locals) until a line does not
    * succeed or the cell is interrupted. Returns the REPL's status of the last line run (Success,
    * Error, Incomplete), or Abandoned when `stop` gave up on the thread, then each line's report. */
  def run(repl: scala.tools.nsc.interpreter.IMain, lines: java.util.List[String],
          report: java.io.StringWriter): Array[String] = {
    val (cellOut, cellErr) = (new ToreeRedirect(out), new ToreeRedirect(err))
    val outPs = new java.io.PrintStream(cellOut, true, "UTF-8")
    val errPs = new java.io.PrintStream(cellErr, true, "UTF-8")
    val status = new java.util.concurrent.CompletableFuture[String]()
    val reports = java.util.Collections.synchronizedList(new java.util.ArrayList[String]())
    val cancelled = new java.util.concurrent.atomic.AtomicBoolean(false) // an interrupt came: no more lines
    val body: Runnable = () =>
      try {
        onThread(tag)
        var result = "Success"
        val each = lines.iterator
        // Not after an interrupt, nor once the cell was abandoned (later cells own the REPL then).
        while (result == "Success" && each.hasNext && !cancelled.get && !status.isDone) {
          val line = each.next()
          Thread.interrupted() // never compile on an interrupted thread (its class-path files would close)
          result = scala.Console.withOut(outPs) { scala.Console.withErr(errPs) { repl.interpret(line) } }.toString
          // An abandoned line that ends after all leaves the report (a later cell's by then) alone.
          if (!status.isDone) report.synchronized { reports.add(report.toString); report.getBuffer.setLength(0) }
        }
        status.complete(result)
      } catch { case e: Throwable => status.complete("Error"); throw e }
    val thread = new Thread(body, s"toree-scala-cell-${cells.incrementAndGet()}")
    thread.setDaemon(true)
    // Java's streams too (System.out.println, executor threads in local mode) while the cell runs;
    // Spark's log4j appender captured the real stderr at start-up and keeps writing there.
    val (hostOut, hostErr) = (System.out, System.err)
    System.setOut(outPs)
    System.setErr(errPs)
    current = new Cell(thread, status, cellOut, cellErr, cancelled)
    try {
      thread.start()
      val result = status.get()
      if (result == "Abandoned") { cellOut.to = hostOut; cellErr.to = hostErr }
      reports.synchronized { (result +: reports.toArray(new Array[String](0)).toSeq).toArray }
    } finally {
      current = null
      System.setOut(hostOut)
      System.setErr(hostErr)
    }
  }

  private def compiling(cell: Cell): Boolean =
    cell.thread.getStackTrace.exists(_.getClassName.startsWith("scala.tools.nsc.Global$Run"))

  /** Step one of an interrupt: wakes sleeps and waits (InterruptedException) and ends loops (the
    * interrupt checks). False when not delivered: the thread has not started yet, or it compiles (an
    * interrupt there could close the compiler's class-path files); the caller tries again. */
  def interrupt(): Boolean = {
    val cell = current
    if (cell != null) cell.cancelled.set(true)
    if (cell == null || !cell.thread.isAlive || compiling(cell)) return false
    cell.thread.interrupt()
    true
  }

  /** Step two, for a cell that ignored `interrupt`: `Thread.stop` where Java still has it (up to
    * Java 19); where it is gone, or the thread survived it, `run` returns Abandoned and the thread
    * is left running. Never while the thread compiles (the compiler would be left half-way).
    * Returns what happened: idle, compiling, stopped, abandoned. */
  def stop(): String = {
    val cell = current
    if (cell == null || !cell.thread.isAlive) return "idle"
    if (compiling(cell)) return "compiling"
    if (!cell.stopTried) {
      cell.stopTried = true
      try {
        classOf[Thread].getMethod("stop").invoke(cell.thread)
        return "stopped"
      } catch { case _: ReflectiveOperationException | _: UnsupportedOperationException => () }
    }
    cell.status.complete("Abandoned")
    "abandoned"
  }
}

val toreeOut = new ToreeStream
val toreeErr = new ToreeStream
val toreeRunner = new ToreeRunner(toreeOut, toreeErr)
