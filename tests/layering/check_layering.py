#!/usr/bin/env python3
"""Checks every component's includes against tests/layering/rules.txt (the ctest `layering`).

Each #include of a C/C++ file under sdk/, plugins/ and daemon/ is resolved the way the build
resolves it: a quoted include relative to the including file first, then (quoted or angled)
against the include roots (daemon/, sdk/include/, the component folders). An include that
resolves to no file of the tree is external (system, Boost, Highway) and not checked. An
include that lands in another component must be allowed by the rules; a known violation must
be listed as an `except` line, and an `except` that is no longer needed is an error too.
A `private PREFIX: FOLDER...` line confines the includes spelled PREFIX... (a system library
such as hiredis/, or a sub-folder of a component) to files under the listed folders.

Usage: check_layering.py [--root DIR] [--rules FILE] [--expect FILE]
  --expect FILE  pass only if the violations found are exactly the lines of FILE (the
                 fixture test: a tree with a forbidden include must be caught); `except`
                 lines that the tree does not need are then not an error.
Exit status: 0 clean (or as expected), 1 violations, 2 bad rules or usage.
"""
import argparse
import fnmatch
import os
import re
import sys

SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".h", ".hpp", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SCANNED = ("sdk", "plugins", "daemon")


class RulesError(Exception):
    pass


def read_rules(path):
    """Returns ({component pattern: [allowed]}, {(component, target): reason}, {prefix: [folders]})."""
    allow, exceptions, private = {}, {}, {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip() if raw.lstrip().startswith("except") else raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{number}"
            if line.startswith("except "):
                m = re.fullmatch(r"except\s+(\S+)\s*->\s*(\S+):\s*(.+)", line)
                if not m:
                    raise RulesError(f"{where}: expected 'except SOURCE -> TARGET: REASON'")
                exceptions[(m[1], m[2])] = m[3]
                continue
            if line.startswith("private "):
                m = re.fullmatch(r"private\s+(\S+):\s*(.+)", line)
                if not m:
                    raise RulesError(f"{where}: expected 'private PREFIX: FOLDER...'")
                private[m[1]] = m[2].split()
                continue
            name, sep, rest = line.partition(":")
            if not sep or not name.strip():
                raise RulesError(f"{where}: expected 'COMPONENT: ALLOWED...'")
            if name.strip() in allow:
                raise RulesError(f"{where}: {name.strip()} is listed twice")
            allow[name.strip()] = rest.split()
    return allow, exceptions, private


def private_violation(private, rel, spelled):
    """Why an include spelled `spelled` in file `rel` breaks a `private` rule, or None."""
    for prefix, folders in private.items():
        if spelled.startswith(prefix) and not any(
                (rel + "/").startswith(f.rstrip("/") + "/") for f in folders):
            return f"only {' '.join(folders)} may include {prefix}..."
    return None


def component_of(rel):
    """The component a tree-relative path belongs to, or None outside the scanned folders."""
    parts = rel.split("/")
    if parts[0] == "sdk":
        return "sdk"
    if parts[0] in ("plugins", "daemon") and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    return None


def source_files(root):
    for top in SCANNED:
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")


def include_roots(root):
    roots = ["daemon", "sdk/include"]
    for top in ("plugins", "daemon"):
        base = os.path.join(root, top)
        if os.path.isdir(base):
            roots += [f"{top}/{d}" for d in sorted(os.listdir(base))
                      if os.path.isdir(os.path.join(base, d))]
    return roots


def resolve(root, roots, including, kind, target):
    """Tree-relative path of an included file, or None when it is not in the tree."""
    candidates = []
    if kind == '"':
        candidates.append(os.path.join(os.path.dirname(including), target))
    candidates += [os.path.join(r, target) for r in roots]
    for c in candidates:
        rel = os.path.normpath(c).replace(os.sep, "/")
        if not rel.startswith("../") and os.path.isfile(os.path.join(root, rel)):
            return rel
    return None


def rule_for(allow, component):
    if component in allow:
        return allow[component]
    for pattern, allowed in allow.items():
        if fnmatch.fnmatchcase(component, pattern):
            return allowed
    return None


def allowed(allowed_list, target_file, target_component):
    return any(a == target_component or a == target_file for a in allowed_list)


def check(root, rules_path, check_exceptions_used=True):
    """Returns (violations, problems): violations are 'FILE:LINE: ...' strings."""
    allow, exceptions, private = read_rules(rules_path)
    roots = include_roots(root)
    violations, problems, used_exceptions = [], [], set()
    unlisted = set()
    for rel in source_files(root):
        source = component_of(rel)
        if source is None:
            continue
        allowed_list = rule_for(allow, source)
        if allowed_list is None:
            unlisted.add(source)
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                why = private_violation(private, rel, m[2])
                if why:
                    violations.append(f"{rel}:{number}: {m[2]}: {why}")
                    continue
                target = resolve(root, roots, rel, m[1], m[2])
                if target is None:
                    continue
                dest = component_of(target)
                if dest is None or dest == source or allowed(allowed_list, target, dest):
                    continue
                hit = next((k for k in exceptions
                            if dest == k[1] and (rel + "/").startswith(k[0].rstrip("/") + "/")),
                           None)
                if hit:
                    used_exceptions.add(hit)
                    continue
                violations.append(f"{rel}:{number}: {source} may not include {target} ({dest})")
    for c in sorted(unlisted):
        problems.append(f"{rules_path}: component {c} has no rule (list what it may include)")
    for (src, dest), reason in sorted(exceptions.items()):
        if check_exceptions_used and (src, dest) not in used_exceptions:
            problems.append(f"{rules_path}: 'except {src} -> {dest}' is no longer needed "
                            f"({reason}): remove the line")
    return violations, problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
    p.add_argument("--rules", default=os.path.join(here, "rules.txt"))
    p.add_argument("--expect", help="file listing exactly the violations that must be found")
    a = p.parse_args()
    try:
        # A fixture tree is not the repository: the rules' `except` lines need not apply.
        violations, problems = check(a.root, a.rules, check_exceptions_used=not a.expect)
    except (RulesError, OSError) as e:
        print(f"layering: {e}", file=sys.stderr)
        return 2
    for line in violations + problems:
        print(line)
    if a.expect:
        with open(a.expect, encoding="utf-8") as f:
            expected = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        if sorted(violations) == sorted(expected) and not problems:
            print(f"layering: the {len(expected)} expected violation(s) were found, no others")
            return 0
        print("layering: expected exactly:\n  " + "\n  ".join(expected), file=sys.stderr)
        return 1
    if violations or problems:
        print(f"layering: {len(violations)} forbidden include(s), {len(problems)} rule problem(s); "
              f"see {a.rules}", file=sys.stderr)
        return 1
    print("layering: every include is allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
