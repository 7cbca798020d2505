// The shared conformance corpus (tests/corpus), the signing vectors (tests/vectors), and the
// native answers other hosts must match: `target/tmp/conformance/native.jsonl`, written by the
// evaluator's integration test `conformance::native_results_for_other_hosts` with the exact
// bytes fed in (PROMOSEAL_NATIVE_RESULTS names another file).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { repo, target } from "./paths.mjs";

export const corpusDir = join(repo, "tests/corpus");
export const vectorsDir = join(repo, "tests/vectors");

/** Every corpus case file, relative to tests/corpus, in sorted order, folders walked in place. */
export function corpusFiles(dir = corpusDir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return corpusFiles(p);
      return name.endsWith(".json") ? [relative(corpusDir, p)] : [];
    });
}

/** A signing vector file's bytes. */
export const readVector = (name) => readFileSync(join(vectorsDir, name));

/** The vectors' manifest: `{ vectors: [{ name, root, bundle, rotations, expect, … }] }`. */
export const vectorManifest = () => JSON.parse(readVector("manifest.json"));

let native;
/** Every native answer (corpus cases, vectors, grants), read once. */
export function nativeResults() {
  if (native) return native;
  const path = process.env.PROMOSEAL_NATIVE_RESULTS ?? join(target, "tmp/conformance/native.jsonl");
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo test -p promoseal-evaluator --test integration conformance\``);
  }
  native = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
  return native;
}

/** The native answers of the corpus cases; with `perFolder`, only the first that many of each folder. */
export function nativeCorpus({ perFolder = Infinity } = {}) {
  const seen = new Map();
  return nativeResults()
    .filter((r) => r.kind === "corpus")
    .filter((r) => {
      const folder = r.case.split("/")[0];
      seen.set(folder, (seen.get(folder) ?? 0) + 1);
      return seen.get(folder) <= perFolder;
    });
}
