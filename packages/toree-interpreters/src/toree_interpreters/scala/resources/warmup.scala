// Throwaway code compiled while no cell runs, so the JIT has compiled the compiler before users wait
// on it. Varied enough to exercise parser, typer, pattern matcher and backend; in its own package.
// bridge.py substitutes $i (string.Template) with the compile's number: each compile is a new class.
package toree_warmup {
  case class W$i(a: Int, s: String) {
    def f(xs: List[Int]): Int = xs.map(_ + a).filter(_ % 2 == 0).foldLeft($i)(_ + _)
    def g: String = s match { case "" => "empty"; case t => t * 2 }
  }
}
