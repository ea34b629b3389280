#!/usr/bin/python3
"""A blind mutation loop for fuzz replayers built with sanitizers (no libFuzzer needed).

    mutate_loop.py TARGET CORPUS_DIR [--seconds N] [--batch N] [--crashes DIR] [--seed N]

Each round writes a batch of inputs mutated from the corpus (byte flips, interesting values,
inserts, deletes, duplicated ranges, splices of two seeds; 1-8 stacked) to a temp dir and
replays them with TARGET (a plain `<name>_fuzz` binary, ideally built with
-fsanitize=address,undefined -fno-sanitize-recover=all). When the replayer fails, each input
of the batch is re-run alone and the failing ones are copied to --crashes (default
./fuzz-crashes) with the sanitizer report. No coverage feedback: it finds shallow bugs and
keeps the sanitizers honest, it is not a replacement for a coverage-guided run.
Exit 0 when no input failed.
"""

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22, 0x08, 0x10]


def mutate(rng, data, corpus):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        if op == 0 and data:  # flip bits
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # interesting byte (varint edges, protobuf tags)
            data[rng.randrange(len(data))] = rng.choice(INTERESTING)
        elif op == 2:  # insert random bytes
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3 and len(data) > 1:  # delete a range
            i = rng.randrange(len(data))
            del data[i:i + rng.randint(1, 32)]
        elif op == 4 and data:  # duplicate a range
            i = rng.randrange(len(data))
            chunk = data[i:i + rng.randint(1, 64)]
            j = rng.randrange(len(data) + 1)
            data[j:j] = chunk
        elif op == 5 and corpus:  # splice with another seed
            other = rng.choice(corpus)
            i = rng.randrange(len(data) + 1)
            j = rng.randrange(len(other) + 1)
            data = data[:i] + other[j:]
        elif op == 6 and data:  # flip the flag byte (most targets' first byte picks a mode)
            data[0] = rng.randrange(256)
    return bytes(data[:1 << 16])


def run(target, paths):
    """(exit code, stderr); a run over its time budget (10 s + 1 s per input) is a failure:
    a hang is a bug too."""
    try:
        p = subprocess.run([target] + paths, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=10 + len(paths))
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if e.stderr else ""
        return -1, err + "\nmutate_loop: timed out"
    return p.returncode, p.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("corpus")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--crashes", default="fuzz-crashes")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    corpus = []
    for name in sorted(os.listdir(args.corpus)):
        with open(os.path.join(args.corpus, name), "rb") as f:
            corpus.append(f.read())
    if not corpus:
        print("mutate_loop: empty corpus", file=sys.stderr)
        return 2

    deadline = time.monotonic() + args.seconds
    total = failures = rounds = 0
    with tempfile.TemporaryDirectory() as tmp:
        while time.monotonic() < deadline:
            paths = []
            for i in range(args.batch):
                path = os.path.join(tmp, f"in{i}")
                with open(path, "wb") as f:
                    f.write(mutate(rng, rng.choice(corpus), corpus))
                paths.append(path)
            rc, err = run(args.target, paths)
            total += len(paths)
            rounds += 1
            if rc == 0:
                continue
            os.makedirs(args.crashes, exist_ok=True)
            for path in paths:
                rc1, err1 = run(args.target, [path])
                if rc1 == 0:
                    continue
                failures += 1
                with open(path, "rb") as f:
                    data = f.read()
                name = "crash-" + hashlib.sha1(data).hexdigest()
                shutil.copy(path, os.path.join(args.crashes, name))
                with open(os.path.join(args.crashes, name + ".log"), "w") as f:
                    f.write(err1)
                print(f"mutate_loop: {name}: exit {rc1}\n{err1[-2000:]}", file=sys.stderr)
    print(f"mutate_loop: {os.path.basename(args.target)}: {total} inputs in {rounds} batches "
          f"({args.seconds:.0f} s, seed {seed}), {failures} failing")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
