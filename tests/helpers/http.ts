// The HTTP calls tests make as a user: post JSON, register, log in. Written once; every suite that
// needs a user (in-process servers, node processes, fault drills) goes through these.

export interface Credentials {
  username: string;
  password: string;
}

export interface RegisteredUser extends Credentials {
  userId: string;
  token: string;
}

/** POSTs `body` (JSON unless already a string) to `base` + `path`. */
export function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Logs in; throws (with the answer) unless it is 200. */
export async function login(base: string, creds: Credentials): Promise<{ userId: string; token: string }> {
  const res = await post(base, '/v1/auth/login', creds);
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return (await res.json()) as { userId: string; token: string };
}

/** Registers the user and logs in; throws (with the answer) unless registration is 201 and login 200. */
export async function register(base: string, creds: Credentials): Promise<RegisteredUser> {
  const res = await post(base, '/v1/auth/register', creds);
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const { userId, token } = await login(base, creds);
  return { ...creds, userId, token };
}
