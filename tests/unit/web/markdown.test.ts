import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../web/markdown.js';

describe('the chat page Markdown renderer', () => {
  it('renders the constructs agent answers use', () => {
    const html = renderMarkdown(
      ['## Where the money goes', '', '| Feature | Spend |', '|---|---:|', '| `code_review` | **$1,060** |', '', '1. move *this*', '2. then that', '', '- a', '- b', '', 'plain text'].join('\n'),
    );
    expect(html).toContain('<h3>Where the money goes</h3>');
    expect(html).toContain('<th>Feature</th>');
    expect(html).toContain('<td><code>code_review</code></td><td><strong>$1,060</strong></td>');
    expect(html).toContain('<ol><li>move <em>this</em></li><li>then that</li></ol>');
    expect(html).toContain('<ul><li>a</li><li>b</li></ul>');
    expect(html).toContain('<p>plain text</p>');
  });

  it('never lets markup through: everything from the answer is escaped first', () => {
    const attacks = [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '[click](javascript:alert(1))',
      '![img](http://evil.example/x.png)',
      '| <b onmouseover=alert(1)>x</b> |\n|---|\n| "quotes" & \'apos\' |',
      '**<iframe src=//evil>**',
    ];
    const allowed = new Set(['h2', 'h3', 'h4', 'h5', 'p', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'ul', 'ol', 'li', 'code', 'strong', 'em']);
    for (const a of attacks) {
      const html = renderMarkdown(a);
      // Every tag in the output is one the renderer makes, and none carries an attribute.
      for (const m of html.matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
        expect(allowed.has(m[1]!.toLowerCase())).toBe(true);
        expect(m[2]).toBe('');
      }
    }
  });
});
