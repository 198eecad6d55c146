#!/usr/bin/env python3
"""Dead relative links in Markdown files.

check_doc_links.py ROOT [FILE.md ...]
  Checks every relative link [text](target) and <img src=...> of the given
  Markdown files (default: every *.md under ROOT, build trees skipped): the
  target must be a file or directory inside ROOT, and an anchor
  (target.md#section, #section) must name a heading of that file (GitHub's
  slugs). Links with a scheme (https:, mailto:) are not followed.
Exit status: 0 no dead link, 1 dead links (each printed as FILE:LINE: ...).
"""
import os
import re
import sys

LINK = re.compile(r"(?<!\!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|!\[[^\]]*\]\(\s*([^()\s]+)\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def slug(heading):
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        found, counts, in_fence = set(), {}, False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if FENCE.match(line):
                    in_fence = not in_fence
                    continue
                m = None if in_fence else HEADING.match(line)
                if m:
                    s = slug(m.group(1))
                    n = counts.get(s, 0)
                    counts[s] = n + 1
                    found.add(s if n == 0 else f"{s}-{n}")
        cache[path] = found
    return cache[path]


def links(path):
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
            for m in LINK.finditer(line):
                yield number, m.group(1) or m.group(2)


def check(root, path):
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        where = f"{os.path.relpath(path, root)}:{number}: link '{target}'"
        if os.path.isabs(file_part):
            problems.append(f"{where}: absolute path")
        elif os.path.relpath(os.path.realpath(dest), os.path.realpath(root)).startswith(".."):
            problems.append(f"{where}: points outside {root}")
        elif not os.path.exists(dest):
            problems.append(f"{where}: no such file")
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            problems.append(f"{where}: no heading '#{anchor}' in {os.path.relpath(dest, root)}")
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    files = argv[2:]
    if not files:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not (d.startswith(".") or d.startswith("build") or d.startswith("obj-"))]
            files += [os.path.join(dirpath, n) for n in filenames if n.endswith(".md")]
    problems = []
    for path in sorted(files):
        problems += check(root, path)
    for p in problems:
        print(p)
    print(f"{len(files)} Markdown files, {len(problems)} dead links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
