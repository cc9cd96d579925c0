// The `kernel` object of Scala cells (display, comms, data shared with Python, the session) and the
// names a Spark shell defines (those in classic_session.scala or connect_session.scala). Read by toree_interpreters/scala/bridge.py after cells.scala.

class ToreeDisplay {
  // (kind, mime, data, displayId) queued for Python, which publishes them while the cell runs
  private val items = new java.util.ArrayList[Array[String]]()
  private def add(item: String*): Unit = items.synchronized { items.add(item.toArray) }
  def content(mime: String, data: String): Unit = add("show", mime, data, null)
  def content(mime: String, data: String, displayId: String): Unit = add("show", mime, data, displayId)
  def update(displayId: String, mime: String, data: String): Unit = add("update", mime, data, displayId)
  def html(s: String): Unit = content("text/html", s)
  def html(s: String, displayId: String): Unit = content("text/html", s, displayId)
  def javascript(s: String): Unit = content("application/javascript", s)
  def markdown(s: String): Unit = content("text/markdown", s)
  def markdown(s: String, displayId: String): Unit = content("text/markdown", s, displayId)
  def image(png: Array[Byte]): Unit = content("image/png", java.util.Base64.getEncoder.encodeToString(png))
  def clear_output(): Unit = clear_output(false)
  def clear_output(wait: Boolean): Unit = add(if (wait) "clear-wait" else "clear", null, null, null)
  def drain(): Array[Array[String]] = items.synchronized {
    val all = items.toArray(new Array[Array[String]](0)); items.clear(); all
  }
}

class ToreeComm(val commId: String, val targetName: String, comms: ToreeComms) {
  @volatile private var msgHandler: String => Unit = (_: String) => ()
  @volatile private var closeHandler: String => Unit = (_: String) => ()
  def send(jsonData: String): Unit = comms.add("msg", commId, targetName, jsonData)
  def close(): Unit = close("{}")
  def close(jsonData: String): Unit = comms.add("close", commId, targetName, jsonData)
  def onMsg(f: String => Unit): Unit = msgHandler = f
  def onClose(f: String => Unit): Unit = closeHandler = f
  def deliverMsg(jsonData: String): Unit = msgHandler(jsonData)
  def deliverClose(jsonData: String): Unit = closeHandler(jsonData)
  override def toString: String = s"ToreeComm($commId, $targetName)"
}

class ToreeComms {  // kernel.comm: drained by Python, which speaks the Jupyter comm protocol
  private val items = new java.util.ArrayList[Array[String]]()
  private val targets = new java.util.concurrent.ConcurrentHashMap[String, ToreeComm => Unit]()
  private val comms = new java.util.concurrent.ConcurrentHashMap[String, ToreeComm]()
  def add(item: String*): Unit = items.synchronized { items.add(item.toArray) }
  def open(targetName: String): ToreeComm = open(targetName, "{}")
  def open(targetName: String, jsonData: String): ToreeComm = {
    val c = new ToreeComm(java.util.UUID.randomUUID.toString.replace("-", ""), targetName, this)
    comms.put(c.commId, c)
    add("open", c.commId, targetName, jsonData)
    c
  }
  def registerTarget(targetName: String, f: ToreeComm => Unit): Unit = {
    targets.put(targetName, f)
    add("target", null, targetName, null)
  }
  // Python calls these for client messages: (open: the data as JSON) -> the target's handler
  def deliver(kind: String, commId: String, targetName: String, jsonData: String): Unit = kind match {
    case "open" =>
      val c = new ToreeComm(commId, targetName, this)
      comms.put(commId, c)
      Option(targets.get(targetName)).foreach(f => f(c))
    case "msg" => Option(comms.get(commId)).foreach(_.deliverMsg(jsonData))
    case "close" => Option(comms.remove(commId)).foreach(_.deliverClose(jsonData))
    case _ => ()
  }
  def forget(commId: String): Unit = comms.remove(commId)
  def drain(): Array[Array[String]] = items.synchronized {
    val all = items.toArray(new Array[Array[String]](0)); items.clear(); all
  }
}

class ToreeKernel {
  val comm = new ToreeComms
  val data = new java.util.concurrent.ConcurrentHashMap[String, Any]()  // shared with Python's kernel.data
  val display = new ToreeDisplay
  def out: java.io.PrintStream = scala.Console.out
  def err: java.io.PrintStream = scala.Console.err
  def sparkSession: org.apache.spark.sql.SparkSession = org.apache.spark.sql.SparkSession.active
  def sparkContext: org.apache.spark.SparkContext = sparkSession.sparkContext
}

val kernel = new ToreeKernel

