// Word frequencies for jaild's TypeScript runner (types are stripped, so only
// erasable TypeScript: interfaces, annotations, generics; no enums or
// namespaces).  The code is the body of an async function: `input` is the
// job's parsed input and the returned value is the job's result.
//
// input:  {"text": "..."} or {"documents": ["...", "..."]}, optionally "top": N
// result: {"documents": 2, "total_words": 123, "unique_words": 80,
//          "top": [{"word": "the", "count": 9}, ...]}

interface WordCount {
  word: string;
  count: number;
}

interface Summary {
  documents: number;
  total_words: number;
  unique_words: number;
  top: WordCount[];
}

type Input = { text?: string; documents?: string[]; top?: number };

function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu) ?? [];
}

function countAll<T>(items: Iterable<T>, counts: Map<T, number> = new Map()): Map<T, number> {
  for (const item of items) {
    counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  return counts;
}

function topN<K>(counts: Map<K, number>, n: number): Array<[K, number]> {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
    .slice(0, n);
}

const job: Input = (input ?? {}) as Input;
const documents: string[] = Array.isArray(job.documents)
  ? job.documents.map((d: unknown) => String(d))
  : [String(job.text ?? '')];

const counts = new Map<string, number>();
let total = 0;
for (const doc of documents) {
  const words = tokenize(doc);
  total += words.length;
  countAll(words, counts);
}

const summary: Summary = {
  documents: documents.length,
  total_words: total,
  unique_words: counts.size,
  top: topN(counts, job.top ?? 10).map(([word, count]): WordCount => ({ word, count })),
};
console.log(`${summary.total_words} words, ${summary.unique_words} distinct`);
return summary;
