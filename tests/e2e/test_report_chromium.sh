#!/usr/bin/env bash
# Issue #14: the HTML postmortem in a real browser. A run fails on a real error and rolls back; its
# `report --format html` is rendered by headless Chromium (Debian's chromium, installed by scripts/deps.sh): the
# screenshot is not blank (decoded with python3's zlib: many colours, much of the page drawn), the DOM text holds
# every step name, the failure's SQLSTATE and the sections for people, the page has no script, and it prints to a
# PDF. Skips (exit 77, which ctest reports as "Skipped") only when chromium is missing and cannot be installed.
source "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM && $(id -u) == 0 ]]; then
  echo "chromium is missing: installing it with scripts/deps.sh"
  "$REPO_ROOT/scripts/deps.sh" >&2 || true
  CHROMIUM=$(command -v chromium || true)
fi
if [[ -z $CHROMIUM ]]; then
  echo "SKIP: chromium is not installed and could not be installed (run scripts/deps.sh as root); the HTML report was not checked in a browser"
  exit 77
fi
new_db e2e_report_html
q "CREATE TABLE books (id bigint PRIMARY KEY, title text NOT NULL, lexile int); INSERT INTO books VALUES (1, 'a', 900), (2, 'negative', -5)"
new_project
plan 0001-lexile <<'TOML'
[plan]
description = "lexile must be positive <b>not bold</b>"
[expand]
[[expand.steps]]
name = "add lexile check"
sql = "ALTER TABLE books ADD CONSTRAINT lexile_positive CHECK (lexile > 0) NOT VALID"
down = "ALTER TABLE books DROP CONSTRAINT IF EXISTS lexile_positive"
[migrate]
[[migrate.steps]]
name = "validate lexile check"
sql = "ALTER TABLE books VALIDATE CONSTRAINT lexile_positive"
TOML
expect 1 pg run
expect 0 pg report --format html
printf '%s\n' "$OUT" >"$WORK/report.html"
check "the page has no script element" "$(grep -c '<script' "$WORK/report.html" || true)" "0"
check "the page loads nothing from elsewhere (no src= or href=)" "$(grep -Ec '(src|href)=' "$WORK/report.html" || true)" "0"

# chromium ARGS...: headless, its own profile, bounded; its chatter (dbus, gpu) goes to a log.
chromium() {
  timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$WORK/chromium-profile" "$@" 2>>"$WORK/chromium.log"
}
set +e
chromium --screenshot="$WORK/shot.png" --window-size=1200,2000 "file://$WORK/report.html" >/dev/null
shot_rc=$?
chromium --dump-dom "file://$WORK/report.html" >"$WORK/dom.html"
dom_rc=$?
chromium --print-to-pdf="$WORK/report.pdf" --no-pdf-header-footer "file://$WORK/report.html" >/dev/null
pdf_rc=$?
set -e
check "chromium took the screenshot" "$shot_rc $([[ -s $WORK/shot.png ]] && echo png)" "0 png"
check "chromium dumped the DOM" "$dom_rc" "0"
[[ $shot_rc == 0 && $dom_rc == 0 ]] || echo "chromium said: $(tail -n 20 "$WORK/chromium.log")"

# The screenshot: decode the PNG (zlib + the five scanline filters), count its colours and the share of pixels
# that are not the page's background.
stats=$(python3 - "$WORK/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    print("not-a-png"); sys.exit(0)
pos, idat, w, h, ctype, depth = 8, b"", 0, 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if depth != 8 or ctype not in (2, 6):
    print("unsupported-png depth=%d type=%d" % (depth, ctype)); sys.exit(0)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, counts = set(), {}
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride): line[i] = (line[i] + line[i - bpp]) & 255
    elif f == 2:
        line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f == 3:
        for i in range(stride): line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:  # every 4th row, every 4th pixel: plenty for "is anything drawn"
        for x in range(0, w, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            counts[px] = counts.get(px, 0) + 1
total = sum(counts.values())
background = max(counts.values()) if counts else 0
print("%d %d" % (len(colours), round(100 * (total - background) / max(total, 1))))
PY
)
colours=${stats%% *}
drawn=${stats##* }
if [[ $colours =~ ^[0-9]+$ && $colours -ge 20 && $drawn -ge 5 ]]; then
  echo "ok: the screenshot is not blank ($colours colours sampled, ${drawn}% of the page off the background)"
else
  echo "FAIL: the screenshot looks blank or did not decode: $stats"; FAILS=$((FAILS + 1))
fi

# The DOM as the browser built it: its text.
text=$(python3 - "$WORK/dom.html" <<'PY'
import html.parser, sys
class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.parts = []; self.skip = 0; self.scripts = 0
    def handle_starttag(self, tag, attrs):
        if tag == "script": self.scripts += 1
        if tag in ("style", "script"): self.skip += 1
    def handle_endtag(self, tag):
        if tag in ("style", "script"): self.skip -= 1
    def handle_data(self, d):
        if not self.skip: self.parts.append(d)
t = Text(); t.feed(open(sys.argv[1], encoding="utf-8").read())
print("scripts=%d" % t.scripts)
print(" ".join(" ".join(t.parts).split()))
PY
)
contains "the DOM has no script" "$text" "scripts=0"
for name in "add lexile check" "validate lexile check"; do contains "the step name \"$name\" is in the DOM text" "$text" "$name"; done
contains "the DOM text has the failure's SQLSTATE" "$text" "SQLSTATE 23514"
contains "the DOM text has the title" "$text" "Run 1 of plan 0001-lexile: failed and rolled back"
contains "the DOM text has the key times" "$text" "Time to detect"
contains "the DOM text has the sections for people" "$text" "What we will change"
contains "markup from the plan is shown as text" "$text" "lexile must be positive <b>not bold</b>"
check "the page prints to a PDF" "$pdf_rc $(head -c 4 "$WORK/report.pdf" 2>/dev/null)" "0 %PDF"
finish
