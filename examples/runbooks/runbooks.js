// The local data: Markdown runbooks in ./runbooks, read once, searched by words.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** @typedef {{ file: string, title: string, text: string }} Runbook */

export class RunbookStore {
  /** @param {string} dir */
  constructor(dir) {
    /** @type {Runbook[]} */
    this.runbooks = readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((file) => {
        const text = readFileSync(join(dir, file), 'utf8');
        return { file, title: text.split('\n')[0].replace(/^#\s*/, ''), text };
      });
  }

  /**
   * The runbooks that mention most of the words, best first.
   * @param {string} query
   * @param {number} limit
   */
  search(query, limit) {
    const words = query.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [];
    return this.runbooks
      .map((r) => ({ r, score: words.filter((w) => r.text.toLowerCase().includes(w)).length }))
      .filter((x) => x.score > 0)
      .sort((a, b) => b.score - a.score || a.r.file.localeCompare(b.r.file))
      .slice(0, limit)
      .map(({ r, score }) => ({ file: r.file, title: r.title, score, steps: r.text.split('\n').filter((l) => /^\d+\./.test(l)) }));
  }
}
