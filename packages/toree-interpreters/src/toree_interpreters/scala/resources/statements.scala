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
    // Where a statement's text begins: its annotations (from their `@`) and modifiers come before the
    // tree's own start.
    def annotation(tree: Tree): Int = if (tree.pos.start > 0 && code.charAt(tree.pos.start - 1) == '@') tree.pos.start - 1 else tree.pos.start
    def start(tree: Tree): Int = tree match {
      case member: MemberDef =>
        (tree.pos.start :: member.mods.annotations.map(annotation) ++ member.mods.positions.values.map(_.start)).min
      case _ => tree.pos.start
    }
    // One statement's text may be several trees (`val (a, b) = p` is three), in no order of their starts:
    // trees whose text overlaps are one statement, which starts where the first of them starts.
    val statements = scala.collection.mutable.ArrayBuffer[(Int, Int, Boolean)]() // start, end, definition
    for (tree <- stats) {
      val (from, to) = (start(tree), tree.pos.end)
      statements.lastOption match {
        case Some((first, last, isDefinition)) if from < last =>
          statements(statements.size - 1) = (math.min(first, from), math.max(last, to), isDefinition && definition(tree))
        case _ => statements += ((from, to, definition(tree)))
      }
    }
    val starts = new StringBuilder("complete")
    for (i <- 1 until statements.size if !(statements(i)._3 && statements(i - 1)._3))
      starts.append(" ").append(statements(i)._1)
    starts.toString
  }
}
val toreeStatements = ToreeStatements
