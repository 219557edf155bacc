// The visualizer's sign-in (served at /debug/login; /debug sends strangers there): trades an
// admin's username and password, or the debug token, for the `aw_debug` cookie (HttpOnly,
// SameSite=Strict, path /debug), then opens the page, keeping a `#run=…` it was asked for.
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

$('switch')?.addEventListener('click', () => {
  void fetch('/debug/session', { method: 'DELETE' }).then(() => location.assign(`/debug/login${location.hash}`));
});

$<HTMLFormElement>('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $<HTMLInputElement>('token').value.trim();
  const body = token ? { token } : { username: $<HTMLInputElement>('username').value.trim(), password: $<HTMLInputElement>('password').value };
  $('signin-error').textContent = '';
  void fetch('/debug/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (res) => {
    if (res.ok) return location.assign(`/debug${location.hash}`);
    const b = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    $('signin-error').textContent = b.error?.message ?? `HTTP ${res.status}`;
  });
});
