"""Magic parsing: magics are found where a statement starts, and ordinary code is never mistaken."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toree_magics import Code, MagicCall, parse_cell


def test_line_magics_split_the_cell_in_order_and_keep_line_numbers() -> None:
    cell = "%AddJar file:///tmp/a.jar -f\nx = 1\n%ShowTypes on\ny = x"
    segments = parse_cell(cell)
    assert segments == [
        MagicCall("AddJar", "file:///tmp/a.jar -f", cell=False, line=0),
        Code("\nx = 1", 1),
        MagicCall("ShowTypes", "on", cell=False, line=2),
        Code("\n\n\ny = x", 3),
    ]
    # Code segments are padded, so a traceback's line numbers are the cell's.
    assert [s.text.split("\n").index("y = x") for s in segments if isinstance(s, Code) and "y" in s.text] == [3]


def test_comments_around_magics_are_not_code() -> None:
    """Toree runs `// note` then `%Truncation` as the magic alone; a comment after code stays with the code."""
    assert parse_cell("// set-up\n%Truncation off", "scala") == [MagicCall("Truncation", "off", cell=False, line=1)]
    assert parse_cell("# a\n%ShowTypes on\n# b", "python") == [MagicCall("ShowTypes", "on", cell=False, line=1)]
    assert parse_cell("x = 1  # c\n%lsmagic", "python") == [Code("x = 1  # c"), MagicCall("lsmagic", "", cell=False, line=1)]
    assert parse_cell("-- q\n%LsMagic", "sql") == [MagicCall("LsMagic", "", cell=False, line=1)]
    assert parse_cell("// only a comment", "scala") == [Code("// only a comment")]  # no magic: the language's


def test_cell_magic_takes_the_rest_of_the_cell() -> None:
    assert parse_cell("\n%%SQL --limit=3\nSELECT 1;\n%not_a_magic_here") == [
        MagicCall("SQL", "--limit=3", cell=True, body="SELECT 1;\n%not_a_magic_here", line=1)
    ]


def test_help_suffix() -> None:
    assert parse_cell("%AddJar?") == [MagicCall("AddJar", "", cell=False, help=True)]
    assert parse_cell("%%DataFrame?")[0].help


def test_percent_in_code_is_code() -> None:
    for code, language in [
        ("x = 10 % 3", "python"),
        ("x = (10\n%3)", "python"),  # inside brackets: an operator on a continuation line
        ("x = 10 \\\n%3", "python"),  # explicit line continuation
        ('s = """\n%notmagic\n"""', "python"),  # inside a triple-quoted string
        ("s = '%s' % 3", "python"),
        ("# comment with a quote ' (\nx = 1", "python"),
        ('val s = """\n%x\n"""', "scala"),
        ("val r = List(1,\n%2)", "scala"),
        ("/* a comment\n%x\n*/ val y = 1", "scala"),
        ("SELECT '%x' AS s", "sql"),
        ("SELECT 1 /*\n%x */", "sql"),
    ]:
        segments = parse_cell(code, language)
        assert segments == [Code(code)], (code, segments)


def test_a_magic_after_a_closed_string_or_bracket_is_found() -> None:
    cell = "s = '''\n(\n'''\n%LsMagic"
    assert parse_cell(cell)[-1] == MagicCall("LsMagic", "", cell=False, line=3)
    assert parse_cell("val x = {\n 1\n}\n%ShowTypes off", "scala")[-1].name == "ShowTypes"


@given(st.text(alphabet=st.characters(blacklist_characters="%"), max_size=200))
def test_code_without_percent_is_one_code_segment(code: str) -> None:
    assert parse_cell(code) == [Code(code)]


@given(st.from_regex(r"[A-Za-z_]\w{0,10}", fullmatch=True), st.from_regex(r"[a-z0-9 =/:.-]{0,20}", fullmatch=True))
def test_any_magic_line_parses_back(name: str, args: str) -> None:
    (call,) = parse_cell(f"%{name} {args}")
    assert (call.name, call.args, call.cell) == (name, args.strip(), False)
