/**
 * Who may use the server. A token (random per run unless given) protects it:
 * - 'all': every request needs it (the server is reachable from other machines);
 * - 'writes': only requests that change the library need it (the default on 127.0.0.1);
 * - 'none': no token at all (--no-auth, the user's explicit choice).
 * Independently of the token, browsers' cross-site requests are refused (Sec-Fetch-Site, Origin), and on a
 * loopback address the Host header must name the loopback host, so a DNS-rebinding page cannot reach it.
 * The page gets the token in its HTML (served only to requests that pass these checks) and sends it in a
 * header; a browser opening the printed URL with ?token= gets it as a same-site cookie for reads.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export type AuthMode = 'none' | 'writes' | 'all';

export const TOKEN_HEADER = 'x-clap-token';

export function newToken(): string {
  return randomBytes(24).toString('hex');
}

const LOOPBACK_HOST = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD']);

export type AccessDecision =
  | { kind: 'allow' }
  | { kind: 'deny'; status: number; message: string }
  /** A page opened with a valid ?token=: set the cookie and reload without the token in the address. */
  | { kind: 'redirect'; location: string; cookie: string };

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export class Access {
  private port = 0;

  constructor(
    readonly mode: AuthMode,
    readonly token: string | null,
    /** Bound to a loopback address: the Host header must then name a loopback host. */
    private readonly loopback: boolean,
  ) {
    if (mode !== 'none' && !token) throw new Error('a token is needed unless auth is off');
  }

  /** Called once listening: cookies are per host, not per port, so the cookie name carries the port. */
  bind(port: number): void {
    this.port = port;
  }

  get cookie(): string {
    return `clap_token_${this.port}`;
  }

  private matches(candidate: string | undefined): boolean {
    if (!this.token || candidate === undefined) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** The token as a request presents it: header, bearer, ?token=, or (for reads only) the cookie. */
  private presents(req: FastifyRequest, read: boolean): boolean {
    const auth = req.headers.authorization;
    const query = (req.query as Record<string, unknown> | undefined)?.token;
    return (
      this.matches(req.headers[TOKEN_HEADER] as string | undefined) ||
      this.matches(auth?.startsWith('Bearer ') ? auth.slice(7) : undefined) ||
      this.matches(typeof query === 'string' ? query : undefined) ||
      (read && this.matches(cookieValue(req.headers.cookie, this.cookie)))
    );
  }

  /** `changesState`: the route changes the library (add, sync, remove). */
  check(req: FastifyRequest, changesState: boolean): AccessDecision {
    const host = req.headers.host ?? '';
    if (this.loopback && !LOOPBACK_HOST.test(host))
      return { kind: 'deny', status: 403, message: `unexpected Host header '${host}' (this server answers on 127.0.0.1 only)` };
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return { kind: 'deny', status: 403, message: 'cross-site requests are refused' };
    const read = SAFE_METHODS.has(req.method);
    const origin = req.headers.origin;
    if (!read && origin !== undefined && origin !== `http://${host}`)
      return { kind: 'deny', status: 403, message: `requests from another origin (${origin}) are refused` };
    if (this.mode === 'none') return { kind: 'allow' };
    const valid = this.presents(req, read);
    if (valid && read) {
      const url = new URL(req.url, 'http://x');
      if (!url.pathname.startsWith('/api/') && url.searchParams.has('token')) {
        url.searchParams.delete('token');
        return {
          kind: 'redirect',
          location: url.pathname + url.search,
          cookie: `${this.cookie}=${this.token}; Path=/; HttpOnly; SameSite=Strict`,
        };
      }
    }
    if (valid || !(this.mode === 'all' || changesState)) return { kind: 'allow' };
    return {
      kind: 'deny',
      status: 401,
      message: changesState
        ? `this request changes the library: send the server's token (header ${TOKEN_HEADER})`
        : 'this server needs its access token: open the URL it printed (with ?token=), or send the token (header x-clap-token)',
    };
  }
}
