// How a cell is cut into REPL lines, read by the REPL's own parser (range positions): one statement
// at a time, as spark-shell takes pasted code, so a class defined in a cell is complete before the
// next statement uses it (typed Datasets need that) and a failing statement leaves the ones before it
// defined. A run of class, trait, object, type and def definitions stays one line: companions,
// sealed hierarchies and mutually recursive defs only compile together.
// Read by toree_interpreters/scala/bridge.py after kernel.scala.

object ToreeStatements {
  /** "invalid", "incomplete", or "complete" followed by the offsets where each line starts. */
  def split(repl: scala.tools.nsc.interpreter.IMain, code: String): String = {
    val global = repl.global
    import global._
    val run = new Run
    var incomplete = false
    reporter.reset()
    val stats = run.parsing.withIncompleteHandler((_, _) => incomplete = true) {
      newUnitParser(new CompilationUnit(newSourceFile(code))).parseStats()
    }
    val failed = reporter.hasErrors
    reporter.reset()
    if (failed) return "invalid"
    if (incomplete) return "incomplete"
    def definition(tree: Tree): Boolean = tree match {
      case _: ImplDef | _: TypeDef | _: DefDef => true
      case _ => false
    }
    val starts = new StringBuilder("complete")
    var previousWasDefinition = false
    for ((tree, i) <- stats.zipWithIndex) {
      val isDefinition = definition(tree)
      if (i > 0 && !(isDefinition && previousWasDefinition)) starts.append(" ").append(tree.pos.start)
      previousWasDefinition = isDefinition
    }
    starts.toString
  }
}
val toreeStatements = ToreeStatements
