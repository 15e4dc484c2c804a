#!/usr/bin/env python3
"""The .deb as a user gets it: build it (cpack -G DEB), extract it (dpkg-deb -x) into a
temporary root, start the packaged qkvd with the packaged /etc/qkv/qkvd.yaml inside that root,
and check through the packaged qkvctl that health is `ok` (every pipeline valid, no plugin
refused), then run every packaged pipeline: tokenize pipelines against the goldens
(tests/data/golden, made by tiktoken / HF tokenizers / sentencepiece), model pipelines on the
packaged tiny random models against the goldens' token counts and the models' config.json.
Also runs the packaged postinst: without systemd it only creates the user; with systemd a unit
that fails to start fails the install.

"Inside the root" is a chroot in an unprivileged user+mount namespace (unshare -r -m) with the
host's shared libraries bind-mounted, so the package's absolute paths (/usr/share/qkv, /etc/qkv,
/run/qkv, /var/lib/qkv) are the ones used. Where namespaces are not allowed (some containers),
the packaged binaries run from the extracted tree with --set for those paths instead, and the
test says so.

Usage: deb_test.py BUILD_DIR SOURCE_DIR WORK_DIR [CPACK]
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import time

BUILD, SOURCE, WORK = (os.path.abspath(a) for a in sys.argv[1:4])
CPACK = sys.argv[4] if len(sys.argv) > 4 else "cpack"
DOCS = 40  # documents of tests/data/corpus/en.jsonl per pipeline: seconds, not minutes

TOKENIZE_GOLDENS = {
    "tokenize-gpt2": "en.r50k_base",
    "tokenize-cl100k": "en.cl100k_base",
    "tokenize-o200k": "en.o200k_base",
    "tokenize-bert-base-uncased": "en.bert-base-uncased",
    "tokenize-sp-bpe": "en.sp-bpe-6k-llama",
    "tokenize-sp-unigram": "en.sp-unigram-8k",
}
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def golden(name):
    with gzip.open(os.path.join(SOURCE, "tests/data/golden", name + ".jsonl.gz"), "rt") as f:
        return [json.loads(line) for _, line in zip(range(DOCS), f)]


def npy_shape(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", path
        major = f.read(2)[0]
        n = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(n).decode()
    return tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())


def namespaces_work():
    probe = run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs none /mnt && chroot / true"])
    return probe.returncode == 0


# --- build and extract -------------------------------------------------------------------
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
t0 = time.time()
pack = run([CPACK, "-G", "DEB", "-B", os.path.join(WORK, "deb")], cwd=BUILD)
debs = [f for f in os.listdir(os.path.join(WORK, "deb")) if f.endswith(".deb")] if pack.returncode == 0 else []
if not debs:
    print(pack.stdout, pack.stderr)
    sys.exit("FAIL cpack -G DEB made no package")
deb = os.path.join(WORK, "deb", debs[0])
print(f"ok   {debs[0]} built in {time.time() - t0:.0f} s")
root = os.path.join(WORK, "root")
subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
subprocess.run(["dpkg-deb", "-e", deb, os.path.join(WORK, "control")], check=True)

packaged = sorted(f[:-5] for f in os.listdir(os.path.join(root, "usr/share/qkv/configs/pipelines"))
                  if f.endswith(".yaml"))
check(set(TOKENIZE_GOLDENS) <= set(packaged), f"every tokenize pipeline is packaged: {packaged}")
for d in ("proc", "dev", "tmp", "run/qkv", "var/lib/qkv/data", "var/lib/qkv/out",
          "usr/lib/x86_64-linux-gnu", "usr/lib64"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
    if not os.path.lexists(os.path.join(root, link)):
        os.symlink(target, os.path.join(root, link))

# Inputs: the first DOCS English documents, plus {src, tgt} pairs for seq2seq.
with open(os.path.join(SOURCE, "tests/data/corpus/en.jsonl")) as f:
    docs = [json.loads(line) for _, line in zip(range(DOCS), f)]
data = os.path.join(root, "var/lib/qkv/data")
with open(os.path.join(data, "en.jsonl"), "w") as f:
    for d in docs:
        f.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
# Documents of all lengths (a few tokens to thousands) for the model pipelines' row counts.
with open(os.path.join(SOURCE, "tests/data/corpus/mixed_edge.jsonl")) as f, \
        open(os.path.join(data, "mixed.jsonl"), "w") as out:
    for _, line in zip(range(DOCS), f):
        out.write(line)
with open(os.path.join(data, "pairs.jsonl"), "w") as f:
    for d in docs[:8]:
        f.write(json.dumps({"src": d["text"][:200], "tgt": d["text"][200:400]}) + "\n")

# --- the jobs, as a script run inside the root ----------------------------------------------
jobs = []
for p in packaged:
    source = "pairs.jsonl" if "seq2seq" in p or "marian" in p else "mixed.jsonl" if p in ("embed-bert", "lm-gpt2") else "en.jsonl"
    out = p + (".jsonl" if p.startswith(("tokenize-", "generate-")) else ".npy")
    extra = "--set generate.max_new_tokens=4" if p.startswith("generate-") else ""
    jobs.append((p, source, out, extra))

use_ns = namespaces_work()
if use_ns:
    mode = "chroot in unshare -r -m"
    # The shell stays outside the chroot: its redirections write into WORK.
    qkvd = f"chroot {root} /usr/bin/qkvd --config /etc/qkv/qkvd.yaml"
    qkvctl = f"chroot {root} /usr/bin/qkvctl"
    data_in, data_out = "/var/lib/qkv/data", "/var/lib/qkv/out"
else:
    mode = "extracted tree with --set (no namespaces here)"
    r_ = lambda rel: os.path.join(root, rel)  # noqa: E731
    qkvd = (f"{r_('usr/bin/qkvd')} --config {r_('etc/qkv/qkvd.yaml')}"
            f" --set socket={r_('run/qkv/qkvd.sock')} --set spool={r_('var/lib/qkv/spool')}"
            f" --set pipelines_dir={r_('usr/share/qkv/pipelines')}"
            f" --set roots.input=[{r_('var/lib/qkv/data')}] --set roots.output=[{r_('var/lib/qkv/out')}]")
    qkvctl = f"{r_('usr/bin/qkvctl')} --socket {r_('run/qkv/qkvd.sock')}"
    data_in, data_out = r_("var/lib/qkv/data"), r_("var/lib/qkv/out")
print(f"mode: {mode}")
socket = os.path.join(root, "run/qkv/qkvd.sock")
script = [
    "set -u",
    f"{qkvd} > {WORK}/qkvd.log 2>&1 &",
    "pid=$!",
    f"for i in $(seq 300); do [ -S {socket} ] && break; sleep 0.1; done",
    f"{qkvctl} --json health > {WORK}/health.json; echo $? > {WORK}/health.rc",
    f"{qkvctl} --json pipelines > {WORK}/pipelines.json",
]
for p, source, out, extra in jobs:
    script.append(f"{qkvctl} submit -p {p} {extra} -o {data_out}/{out} --wait {data_in}/{source}"
                  f" > {WORK}/{p}.log 2>&1; echo $? > {WORK}/{p}.rc")
script += ["kill -TERM $pid", f"wait $pid; echo $? > {WORK}/qkvd.rc"]
with open(os.path.join(WORK, "inside.sh"), "w") as f:
    f.write("\n".join(script) + "\n")

if use_ns:
    # The host's shared libraries (the package's Depends) and /dev, /proc inside the root.
    binds = [("/usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"), ("/usr/lib64", "usr/lib64"),
             ("/dev", "dev"), ("/proc", "proc")]
    cmd = "set -e; " + "; ".join(f"mount --rbind {src} {root}/{dst}" for src, dst in binds
                                 if os.path.isdir(src)) + f"; sh {WORK}/inside.sh"
    r = run(["unshare", "-r", "-m", "sh", "-c", cmd], timeout=300)
else:
    r = run(["sh", os.path.join(WORK, "inside.sh")], timeout=300)
if r.returncode != 0:
    print(r.stdout, r.stderr)


def read(name):
    try:
        with open(os.path.join(WORK, name)) as f:
            return f.read()
    except OSError:
        return ""


log = read("qkvd.log")
health = json.loads(read("health.json").splitlines()[-1] or "{}") if read("health.json") else {}
check(read("health.rc").strip() == "0" and health.get("status") == "ok",
      f"packaged qkvd starts and health is ok: {health}")
listed = read("pipelines.json")
check(all(p in listed for p in packaged) and '"valid":false' not in listed.replace(" ", ""),
      "qkvctl pipelines lists every packaged pipeline as valid")
check(read("qkvd.rc").strip() == "0", "qkvd stops cleanly on SIGTERM")

out_dir = os.path.join(root, "var/lib/qkv/out")
for p, source, out, extra in jobs:
    rc = read(p + ".rc").strip()
    check(rc == "0", f"{p}: job done (qkvctl exit {rc}) {read(p + '.log').strip()[-300:] if rc != '0' else ''}")
    if rc != "0":
        continue
    path = os.path.join(out_dir, out)
    if p in TOKENIZE_GOLDENS:
        with open(path) as f:
            got = [json.loads(line) for line in f]
        want = golden(TOKENIZE_GOLDENS[p])
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        check(len(got) == len(want) and not bad,
              f"{p}: {len(got)} documents equal the golden {TOKENIZE_GOLDENS[p]} (first bad: {bad[:1]})")
    elif p.startswith("generate-"):
        with open(path) as f:
            rows = [json.loads(line) for line in f]
        n = 8 if "seq2seq" in p or "marian" in p else DOCS
        check(len(rows) == n and all(len(r.get("ids", [])) <= 4 and "finish_reason" in r for r in rows),
              f"{p}: {len(rows)} generations of at most 4 tokens")
    elif p in ("embed-minilm", "embed-e5", "embed-xlmr"):
        # Pooled: one vector per document, the sentence-transformers folder's width.
        folder = "xlmr-tiny" if p == "embed-xlmr" else "st-bert-tiny"
        with open(os.path.join(root, "usr/share/qkv/models", folder, "config.json")) as f:
            width = json.load(f)["hidden_size"]
        shape = npy_shape(path)
        check(shape == (DOCS, width), f"{p}: pooled vectors {shape} == ({DOCS}, {width})")
    else:
        model = {"embed-bert": "bert-tiny", "lm-gpt2": "gpt2-tiny",
                 "seq2seq-marian": "marian-tiny"}.get(p, "seq2seq-tiny")
        with open(os.path.join(root, "usr/share/qkv/models", model, "config.json")) as f:
            cfg = json.load(f)
        width = cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("d_model")
        shape = npy_shape(path)
        if p in ("seq2seq", "seq2seq-marian"):
            check(len(shape) == 2 and shape[1] == width, f"{p}: decoder states {shape}, width {width}")
        else:
            # Rows: each document's golden token count, cut to the model's positions.
            positions = cfg.get("max_position_embeddings") or cfg.get("n_positions")
            g = golden("mixed_edge.bert-base-uncased" if model == "bert-tiny" else "mixed_edge.r50k_base")
            rows = sum(min(len(ids), positions) for ids in g)
            check(shape == (rows, width), f"{p}: hidden states {shape} == ({rows}, {width})")

# --- cmake --install into another prefix: its own config, state folders and pipelines ------
prefix = os.path.join(WORK, "prefix")
r = run(["cmake", "--install", BUILD, "--prefix", prefix])
check(r.returncode == 0, f"cmake --install --prefix {prefix} {r.stderr.strip()[-300:]}")
listing = run([os.path.join(prefix, "bin/qkvd"), "pipelines"])
check(listing.returncode == 0 and "INVALID" not in listing.stdout and prefix in listing.stdout,
      f"installed qkvd finds <prefix>/etc/qkv and every pipeline is valid {listing.stdout[-400:]}")
with open(os.path.join(prefix, "lib/systemd/system/qkvd.service")) as f:
    unit = f.read()
check(f"ExecStart={prefix}/bin/qkvd --config {prefix}/etc/qkv/qkvd.yaml" in unit
      and f"-{prefix}/var/lib/qkv" in unit and f"-{prefix}/var/run/qkv" in unit,
      "the prefix install's unit runs that prefix's qkvd and may write its state and socket folders")
shutil.copy(os.path.join(data, "en.jsonl"), os.path.join(prefix, "var/lib/qkv/data/en.jsonl"))
for p, name in TOKENIZE_GOLDENS.items():
    out = os.path.join(prefix, "var/lib/qkv/out", p + ".jsonl")
    r = run([os.path.join(prefix, "bin/qkvd"), "run", "-p", p, "-i",
             os.path.join(prefix, "var/lib/qkv/data/en.jsonl"), "-o", out])
    got = [json.loads(line) for line in open(out)] if r.returncode == 0 else None
    check(got == golden(name), f"prefix install: qkvd run -p {p} equals the golden {name}"
          + ("" if got == golden(name) else " " + r.stderr[-300:]))

# --- postinst -------------------------------------------------------------------------------
postinst = os.path.join(WORK, "control/postinst")
stubs = os.path.join(WORK, "stubs")
os.makedirs(stubs)
for tool in ("systemd-sysusers", "systemctl", "adduser"):
    with open(os.path.join(stubs, tool), "w") as f:
        f.write(f'#!/bin/sh\necho "{tool} $*" >> {WORK}/calls\n'
                f'case "{tool} $*" in *"$FAIL"*) [ -n "$FAIL" ] && exit 1;; esac\nexit 0\n')
    os.chmod(os.path.join(stubs, tool), 0o755)
env = dict(os.environ, PATH=stubs + ":/usr/bin:/bin", FAIL="")
if os.path.isdir("/run/systemd/system"):
    print("skip postinst without systemd: this machine runs systemd")
else:
    r = run(["sh", postinst, "configure"], env=env)
    calls = read("calls")
    check(r.returncode == 0 and "systemd-sysusers" in calls and "systemctl" not in calls,
          f"postinst without systemd: creates the user only (exit {r.returncode}, calls {calls.split()})")
    os.remove(os.path.join(WORK, "calls"))
    r = run(["sh", postinst, "configure"], env=dict(env, FAIL="systemd-sysusers"))
    check(r.returncode != 0, "postinst fails when the user cannot be created")
if use_ns:
    # With systemd (a tmpfs /run holding run/systemd/system): a unit that does not start
    # fails the install and says where to look.
    r = run(["unshare", "-r", "-m", "sh", "-c",
             f"mount -t tmpfs none /run && mkdir -p /run/systemd/system && sh {postinst} configure"],
            env=dict(env, FAIL="restart"))
    check(r.returncode != 0 and "journalctl" in r.stderr,
          f"postinst with systemd: a unit that fails to start fails the install ({r.stderr.strip()})")
    calls = read("calls")
    check("systemctl enable qkvd.service" in calls, "postinst enables the unit")

if failures:
    print("qkvd log:\n" + log[-3000:])
    print(f"{len(failures)} failed")
    sys.exit(1)
print(f"all packaging checks passed in {time.time() - t0:.0f} s ({mode})")
shutil.rmtree(WORK, ignore_errors=True)
