// A scalac plugin for the REPL's compiler: every while and do-while loop of a cell starts each turn
// with `if (java.lang.Thread.interrupted()) throw new java.lang.InterruptedException()`, so the cell
// interrupt (Thread.interrupt) ends a busy loop on any Java, Thread.stop or not. Compiled once per
// Scala version by toree_interpreters/scala/interrupt_checks.py (with scalac-plugin.xml).
package toree_plugin

import scala.tools.nsc.Global
import scala.tools.nsc.plugins.{Plugin, PluginComponent}
import scala.tools.nsc.transform.Transform

class InterruptChecks(val global: Global) extends Plugin {
  val name = "toree-interrupt-checks"
  val description = "an interrupt check at the top of every while and do-while loop"
  val components: List[PluginComponent] = List(component)

  private object component extends PluginComponent with Transform {
    val global: InterruptChecks.this.global.type = InterruptChecks.this.global
    import global._
    val runsAfter = List("parser")
    override val runsBefore = List("namer")
    val phaseName = "toree-interrupt-checks"

    private def javaLang: Tree = Select(Select(Ident(termNames.ROOTPKG), TermName("java")), TermName("lang"))
    private def check: Tree = If(
      Apply(Select(Select(javaLang, TermName("Thread")), TermName("interrupted")), Nil),
      Throw(Apply(Select(New(Select(javaLang, TypeName("InterruptedException"))), termNames.CONSTRUCTOR), Nil)),
      Literal(Constant(()))
    )

    // The parser makes a loop a LabelDef whose body ends in the jump back: the check goes first.
    def newTransformer(unit: CompilationUnit): Transformer = new Transformer {
      override def transform(tree: Tree): Tree = tree match {
        case LabelDef(name, params, rhs) =>
          treeCopy.LabelDef(tree, name, params, atPos(rhs.pos.focus)(Block(List(check), transform(rhs))))
        case _ => super.transform(tree)
      }
    }
  }
}
