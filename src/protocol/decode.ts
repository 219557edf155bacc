// The only place raw socket bytes become typed frames.
import { clientFrame, CLIENT_FRAME_TYPES, type ClientFrame } from './frames.js';

export type Decoded =
  | { ok: true; frame: ClientFrame }
  | { ok: false; message: string; requestId?: string; runId?: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

export function decodeClientFrame(data: ArrayBuffer | string, isBinary = false): Decoded {
  if (isBinary) return { ok: false, message: 'binary frames are not accepted; send JSON text' };
  let text: string;
  try {
    text = typeof data === 'string' ? data : decoder.decode(data);
  } catch {
    return { ok: false, message: 'frame is not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'frame must be a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  // Echo correlation ids on refusals so a client can match them, but only well-formed ones.
  const echo = {
    ...(typeof obj.requestId === 'string' && obj.requestId.length <= 128 ? { requestId: obj.requestId } : {}),
    ...(typeof obj.runId === 'string' && obj.runId.length <= 128 ? { runId: obj.runId } : {}),
  };
  if (typeof obj.type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(obj.type)) {
    return { ok: false, message: `unknown frame type; expected one of ${CLIENT_FRAME_TYPES.join(', ')}`, ...echo };
  }
  const parsed = clientFrame.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'frame';
    return { ok: false, message: `${obj.type}: ${where}: ${issue?.message ?? 'invalid'}`, ...echo };
  }
  return { ok: true, frame: parsed.data };
}
