#!/usr/bin/env python3
"""docs_in_step.py: checks that the documentation says what the code is.

Run by CTest with STRATA_SRC set to the repository root (or by hand from
anywhere in the tree). Standard library only. Exit 0 when every check
passes; otherwise 1, with one line per problem naming the document, the
entry and what the source says.

Checks:
  1. docs/ARCHITECTURE.md, the tree between <!-- tree:begin --> and
     <!-- tree:end -->: every path exists (a directory where the name ends
     in "/"); an entry marked "(to come)" does not exist yet; every
     directory under src/ is in the tree.
  2. docs/FORMAT.md, the table between <!-- constants:begin --> and
     <!-- constants:end -->: each name is a #define or an enum constant in
     the file given, with the value given. Every *_MAGIC and *_VERSION
     #define under src/ and include/ (but the library's own version) is in
     the table.
  3. docs/FORMAT.md, the table between <!-- names:begin --> and
     <!-- names:end -->: each text occurs in the file given.
  4. docs/*.md and CONTRIBUTING.md: every repository path written in
     backquotes, and every relative link, exists.
  5. docs/strata.1: every sub-command of cli/main.c and every long option
     of an option table in cli/ and server/ is documented.
  6. No file of the repository refers to files outside it (a directory beside the checkout, or
     a design document that only exists beside the repository).
  7. Every C file under src/, include/, cli/, server/, bench/ and fuzz/
     opens with a comment that names it ("wal.h: ..."), so a file that was
     moved or renamed does not keep describing itself by its old name.
"""
import ast
import os
import re
import sys

ROOT = os.environ.get("STRATA_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
problems = []


def problem(where, msg):
    problems.append("%s: %s" % (where, msg))


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
        return f.read()


def exists(rel):
    return os.path.exists(os.path.join(ROOT, rel))


def between(text, tag, where):
    m = re.search(r"<!-- %s:begin -->\n(.*?)<!-- %s:end -->" % (tag, tag), text, re.S)
    if not m:
        problem(where, "no <!-- %s:begin --> ... <!-- %s:end --> block" % (tag, tag))
        return ""
    return m.group(1)


# ------------------------------------------------------------ 1. the tree

def check_tree():
    where = "docs/ARCHITECTURE.md"
    if not exists(where):
        problem(where, "missing")
        return set()
    block = between(read(where), "tree", where)
    lines = [l for l in block.splitlines() if l.strip() and not l.startswith("```")]
    stack = []  # (indent, name) of the directories enclosing the current line
    named, to_come = set(), set()
    for l in lines:
        indent = len(l) - len(l.lstrip(" "))
        if indent % 2:
            problem(where, "tree line indented by an odd number of spaces: %r" % l)
            continue
        name = l.split()[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if indent and (not stack or stack[-1][0] != indent - 2):
            problem(where, "tree line not under a directory: %r" % l)
            continue
        path = "".join(n for _, n in stack) + name
        if name.endswith("/"):
            stack.append((indent, name))
        rel = path.rstrip("/")
        named.add(rel)
        if "(to come)" in l:
            to_come.add(rel)
            if exists(rel):
                problem(where, "%s is marked (to come) but exists: drop the mark" % path)
            continue
        if not exists(rel):
            problem(where, "%s is in the tree but not in the repository" % path)
        elif name.endswith("/") != os.path.isdir(os.path.join(ROOT, rel)):
            problem(where, "%s: a directory in the tree iff one on disk (names of directories end in /)" % path)
    src = os.path.join(ROOT, "src")
    if os.path.isdir(src):
        for d in sorted(os.listdir(src)):
            if os.path.isdir(os.path.join(src, d)) and "src/" + d not in named:
                problem(where, "src/%s/ exists but is not in the tree" % d)
    for f in sorted(os.listdir(src)) if os.path.isdir(src) else []:
        if os.path.isfile(os.path.join(src, f)) and f.endswith((".c", ".h")):
            problem(where, "src/%s is a source file outside every layer" % f)
    return to_come


# ------------------------------------------------------------ 2, 3. FORMAT.md

def c_value(expr):
    """The value of a C constant expression of integer literals, or a string."""
    expr = re.sub(r"/\*.*?\*/|//.*", "", expr).strip()
    if expr.startswith('"'):
        return expr
    expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr)
    if not re.fullmatch(r"[0-9a-fA-FxX()<>|&+\-* ]+", expr):
        return None
    try:
        node = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None
    ok = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.LShift, ast.RShift, ast.BitOr, ast.BitAnd,
          ast.Add, ast.Sub, ast.Mult, ast.USub)
    if not all(isinstance(n, ok) for n in ast.walk(node)):
        return None
    return eval(compile(node, "<c>", "eval"))


def doc_value(text):
    text = text.strip().strip("`")
    if text.startswith('"'):
        return text
    try:
        return int(text, 0)
    except ValueError:
        return None


def source_value(src, name):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    m = re.search(r"^[ \t]*#[ \t]*define[ \t]+%s[ \t]+(.+)$" % re.escape(name), src, re.M)
    if m:
        return c_value(m.group(1)), True
    m = re.search(r"\b%s\s*=\s*([^,}\n]+)" % re.escape(name), src)
    if m:
        return c_value(m.group(1)), True
    return None, False


def table_rows(block):
    for l in block.splitlines():
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        if not l.strip().startswith("|") or set("".join(cells)) <= set("-: "):
            continue
        yield cells


def check_format():
    where = "docs/FORMAT.md"
    if not exists(where):
        problem(where, "missing")
        return
    text = read(where)
    listed = set()
    rows = list(table_rows(between(text, "constants", where)))
    for cells in rows[1:]:  # the first row is the header
        if len(cells) != 3:
            problem(where, "constants row needs name | value | file: %r" % cells)
            continue
        name, value, path = cells[0].strip("`"), cells[1], cells[2].strip("`")
        listed.add(name)
        if not exists(path):
            problem(where, "%s: file %s does not exist" % (name, path))
            continue
        got, found = source_value(read(path), name)
        want = doc_value(value)
        if not found:
            problem(where, "%s: no #define or enum constant of that name in %s" % (name, path))
        elif got is None or want is None:
            problem(where, "%s: cannot compare %r with %s's value" % (name, value, path))
        elif got != want:
            shown = hex(got) if isinstance(got, int) and value.lower().startswith("0x") else got
            problem(where, "%s is %s on this page but %s in %s" % (name, value, shown, path))
    for top in ("src", "include"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
                for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w*(?:_MAGIC|_VERSION))\b", read(rel), re.M):
                    if m.group(1) not in listed:
                        problem(where, "%s (%s) is an on-disk constant missing from the constants table"
                                % (m.group(1), rel))
    rows = list(table_rows(between(text, "names", where)))
    for cells in rows[1:]:
        if len(cells) != 2:
            problem(where, "names row needs text | file: %r" % cells)
            continue
        needle, path = cells[0].strip("`"), cells[1].strip("`")
        if not exists(path):
            problem(where, "%s: file %s does not exist" % (needle, path))
        elif needle not in read(path):
            problem(where, "%s does not occur in %s" % (needle, path))


# ------------------------------------------------------------ 4. paths in prose

REPO_PATH = re.compile(r"(?:src|include|server|cli|bench|tests|fuzz|docs)/[\w.\-/]*|[A-Z][\w.\-]*\.(?:md|txt)|Makefile|"
                       r"CMakeLists\.txt|LICENSE|NOTICE|\.clang-format|\.editorconfig")


TOP_FILES = ("Makefile", "CMakeLists.txt", "README.md", "CONTRIBUTING.md", "LICENSE", "NOTICE", ".clang-format",
             ".editorconfig")


def check_paths(to_come):
    docs = ["CONTRIBUTING.md"] + ["docs/" + f for f in sorted(os.listdir(os.path.join(ROOT, "docs")))
                                  if f.endswith(".md")] if exists("docs") else ["CONTRIBUTING.md"]
    for where in docs:
        if not exists(where):
            problem(where, "missing")
            continue
        text = read(where)
        base = os.path.dirname(where)
        for m in re.finditer(r"`([^`\n]+)`", text):
            p = m.group(1)
            if not REPO_PATH.fullmatch(p) or not ("/" in p or p in TOP_FILES):
                continue
            rel = p.rstrip("/")
            if any(rel == t or rel.startswith(t + "/") for t in to_come):
                continue
            if not exists(rel):
                problem(where, "names `%s`, which does not exist" % p)
        for m in re.finditer(r"\]\(([^)#\s]+)(#[^)]*)?\)", text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            rel = os.path.normpath(os.path.join(base, target))
            if rel.startswith(".."):
                problem(where, "links to %s, outside the repository" % target)
            elif not exists(rel):
                problem(where, "links to %s, which does not exist" % target)


# ------------------------------------------------------------ 5. the man page

def check_man():
    where = "docs/strata.1"
    if not exists(where):
        problem(where, "missing")
        return
    man = read(where).replace("\\-", "-").replace("\\f[BIR]", "").replace("\\fP", "")
    man = re.sub(r"\\f[BIRP]", "", man)
    if exists("cli/main.c"):
        for m in re.finditer(r'\{\s*"([a-z][\w-]*)"\s*,\s*cmd_\w+', read("cli/main.c")):
            if not re.search(r"^\.SS\s+\"?%s\b" % re.escape(m.group(1)), man, re.M):
                problem(where, "sub-command %s (cli/main.c) has no .SS section" % m.group(1))
    for d in ("cli", "server"):
        if not exists(d):
            continue
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if not f.endswith((".c", ".h")):
                continue
            for m in re.finditer(r'\{\s*"([a-z][\w-]*)"\s*,\s*(?:required|no|optional)_argument', read(d + "/" + f)):
                if "--" + m.group(1) not in man:
                    problem(where, "option --%s (%s/%s) is not documented" % (m.group(1), d, f))


# ------------------------------------------------------------ 6. nothing outside

OUTSIDE = re.compile(r"\.\./shared\b|\b(?:DESIGN|INTERFACES|STYLE)\.md\b")
SKIP_DIRS = {".git", "node_modules"}


def check_outside():
    me = os.path.join("tests", "scripts", "docs_in_step.py")  # names what it looks for
    for dirpath, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith("build")
                   and not os.path.exists(os.path.join(dirpath, d, "CMakeCache.txt"))]
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
            if rel == me or not f.endswith((".c", ".h", ".md", ".py", ".sh", ".txt", ".1", ".proto")) and \
                    f not in ("Makefile", "CMakeLists.txt"):
                continue
            for n, line in enumerate(read(rel).splitlines(), 1):
                for m in OUTSIDE.finditer(line):
                    name = m.group(0)
                    if name.startswith("../") or not (exists(name) or exists("docs/" + name)):
                        problem(rel, "line %d refers to %s, outside the repository" % (n, name))


# ------------------------------------------------------------ 7. top comments

def check_top_comments():
    for top in ("src", "include", "cli", "server", "bench", "fuzz"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), ROOT)
                head = "\n".join(read(rel).splitlines()[:3])
                if not re.search(r"(^|[\s*/])%s:" % re.escape(f), head):
                    m = re.search(r"([\w.-]+\.[ch]):", head)
                    problem(rel, "the top comment should open with \"%s: ...\"%s" %
                            (f, " (it names %s)" % m.group(1) if m else ""))


def main():
    if not os.path.isdir(ROOT):
        print("docs_in_step: STRATA_SRC=%s is not a directory" % ROOT, file=sys.stderr)
        return 2
    to_come = check_tree()
    check_format()
    check_paths(to_come)
    check_man()
    check_outside()
    check_top_comments()
    if problems:
        print("docs_in_step: the documentation and the code disagree (%d problems):" % len(problems), file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        print("Fix the document (or the code) in the same commit; the checks are described at the top of "
              "tests/scripts/docs_in_step.py.", file=sys.stderr)
        return 1
    print("docs_in_step: docs/ARCHITECTURE.md, docs/FORMAT.md, docs/strata.1 and CONTRIBUTING.md agree with the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
