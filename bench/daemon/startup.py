#!/usr/bin/env python3
"""Start-up of `qkvd run` per shipped vocabulary (issue 17 item 4): a 1-document job, median of
RUNS runs, wall and CPU (user+sys of the process, from wait4: microsecond resolution), with
vocabulary images off (QKV_CACHE_DIR empty: tables built on every load) and on (a fresh
cache folder, primed by one run that builds the images). With BASE_BUILD_DIR (e.g. a copy of
an older build's bin/qkvd, plugins/*.so and qkv-build-tree), each vocabulary is measured with
both builds one after the other, so before and after share the machine's load.
  bench/daemon/startup.py [BUILD_DIR] [RUNS] [BASE_BUILD_DIR]"""
import os, shutil, statistics, subprocess, sys, tempfile, time

build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 9
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(root)
corpus = os.environ.get("QKV_CORPUS_DIR", "/work/shared/data/corpus")
if not os.path.isdir(corpus):
    corpus = "tests/data/corpus"
work = tempfile.mkdtemp(prefix="qkv-startup.")
one = os.path.join(work, "one.jsonl")
with open(os.path.join(corpus, "en.jsonl")) as f, open(one, "w") as o:
    o.write(f.readline())
base = sys.argv[3] if len(sys.argv) > 3 else None
builds = [(build, "")] + ([(base, " (base)")] if base else [])


def job(pipeline, cache, qkvd=os.path.join(build, "bin", "qkvd")):
    out = os.path.join(work, "out")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    env = dict(os.environ, QKV_CACHE_DIR=cache)
    t0 = time.perf_counter()
    p = subprocess.Popen([qkvd, "run", "-p", f"configs/pipelines/{pipeline}.yaml", "-i", one,
                          "-o", os.path.join(out, "ids.jsonl"), "-t", "1"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if status != 0:
        sys.exit(f"{pipeline}: qkvd run failed: {err}")
    return wall, ru.ru_utime + ru.ru_stime


def medians(pipeline, cache, qkvd):
    w, c = zip(*(job(pipeline, cache, qkvd) for _ in range(runs)))
    return statistics.median(w) * 1e3, statistics.median(c) * 1e3


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or "unknown"
print(f"CPU: {cpu}")
print(f"commit: {commit}" + (f"; base: {base}" if base else ""))
print(f"1-document `qkvd run -t 1`; medians of {runs} runs")
print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])} ({os.cpu_count()} cores)")
print()
print("| vocabulary | images off: wall ms | CPU ms | images on: wall ms | CPU ms |")
print("|---|---:|---:|---:|---:|")
pipelines = ["tokenize-gpt2", "tokenize-cl100k", "tokenize-o200k", "tokenize-bert-base-uncased",
             "tokenize-sp-bpe", "tokenize-sp-unigram"]
for p in pipelines:
    for d, label in builds:
        qkvd = os.path.join(d, "bin", "qkvd")
        cache = os.path.join(work, "cache")
        shutil.rmtree(cache, ignore_errors=True)
        off = medians(p, "", qkvd)
        job(p, cache, qkvd)  # builds and saves the images
        on = medians(p, cache, qkvd)
        print(f"| {p}{label} | {off[0]:.1f} | {off[1]:.1f} | {on[0]:.1f} | {on[1]:.1f} |")
print()
print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
shutil.rmtree(work)
