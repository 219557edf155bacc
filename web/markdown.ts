// Agent answers as HTML, safe by construction: markdown-it (CommonMark plus tables) with raw HTML
// off, so every `<` of the answer is escaped, and with links, images and autolinks off, so an
// answer can neither inject markup or scripts nor make the page fetch anything. No element keeps an
// attribute (no `class`, no inline `style`, which the page's CSP forbids anyway), except an
// ordered list's numeric `start`.
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false });
md.disable(['link', 'image', 'autolink', 'html_inline', 'html_block']);

md.core.ruler.push('agentwire_plain', (state) => {
  const strip = (tokens: typeof state.tokens) => {
    for (const t of tokens) {
      // Headings move one level down: the page has its own h1.
      if ((t.type === 'heading_open' || t.type === 'heading_close') && t.tag !== 'h6') t.tag = `h${Number(t.tag.slice(1)) + 1}`;
      const start = t.type === 'ordered_list_open' ? t.attrGet('start') : null;
      t.attrs = start !== null && /^\d+$/.test(String(start)) ? [['start', String(start)]] : null;
      // A fence's info string would become `class="language-…"`.
      if (t.type === 'fence') t.info = '';
      if (t.children) strip(t.children);
    }
  };
  strip(state.tokens);
});

export function renderMarkdown(text: string): string {
  return md.render(text);
}
