// The chat page's Markdown (web/markdown.ts: markdown-it with raw HTML, links and images off).
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../web/markdown.js';

/** The HTML without the line breaks markdown-it puts between block tags. */
const flat = (html: string) => html.replace(/\n/g, '').trim();

describe('the chat page Markdown renderer', () => {
  it('renders the constructs agent answers use', () => {
    const html = flat(
      renderMarkdown(
        ['## Where the money goes', '', '| Feature | Spend |', '|---|---:|', '| `code_review` | **$1,060** |', '', '1. move *this*', '2. then that', '', '- a', '- b', '', 'plain text'].join('\n'),
      ),
    );
    expect(html).toContain('<h3>Where the money goes</h3>');
    expect(html).toContain('<th>Feature</th>');
    // The right-aligned column keeps no inline style (the page's CSP forbids them).
    expect(html).toContain('<td><code>code_review</code></td><td><strong>$1,060</strong></td>');
    expect(html).toContain('<ol><li>move <em>this</em></li><li>then that</li></ol>');
    expect(html).toContain('<ul><li>a</li><li>b</li></ul>');
    expect(html).toContain('<p>plain text</p>');
  });

  it('a fenced code block stays one block, its lines, indentation and markup characters kept as text', () => {
    const html = renderMarkdown(['Run this:', '', '```ts', 'const a = 1;', '  if (a *b* c) { x = "<y>"; }', '```'].join('\n'));
    expect(html).toContain('<pre><code>const a = 1;\n  if (a *b* c) { x = &quot;&lt;y&gt;&quot;; }\n</code></pre>');
    expect(html).not.toContain('<em>');
  });

  it('nested lists stay nested', () => {
    const html = flat(renderMarkdown(['- a', '  - a.1', '    1. a.1.i', '- b'].join('\n')));
    expect(html).toBe('<ul><li>a<ul><li>a.1<ol><li>a.1.i</li></ol></li></ul></li><li>b</li></ul>');
  });

  it('never lets markup through: no tag but its own, and no attribute but an ordered list start', () => {
    const attacks = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '[click](javascript:alert(1))',
      '![img](http://evil.example/x.png)',
      '<http://evil.example/>',
      '[ref]\n\n[ref]: javascript:alert(1)',
      '| <b onmouseover=alert(1)>x</b> |\n|---|\n| "quotes" & \'apos\' |',
      '**<iframe src=//evil>**',
      '```"><script>alert(1)</script>\nx\n```',
      '3. starts at three',
    ];
    const allowed = new Set(['h2', 'h3', 'h4', 'h5', 'h6', 'p', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'ul', 'ol', 'li', 'code', 'pre', 'strong', 'em', 's', 'blockquote', 'hr', 'br']);
    for (const a of attacks) {
      const html = renderMarkdown(a);
      for (const m of html.matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
        expect(allowed.has(m[1]!.toLowerCase()), `${a} → ${html}`).toBe(true);
        expect(m[2] === '' || /^ start="\d+"$/.test(m[2]!), `${a} → ${html}`).toBe(true);
      }
    }
    expect(renderMarkdown('3. starts at three')).toContain('<ol start="3">');
  });
});
