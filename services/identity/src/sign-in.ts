import { createHash, randomBytes } from "node:crypto";

/** The tokens a sign-in ends with. */
export interface SignInResult {
  readonly accessToken: string;
  readonly idToken?: string;
  readonly refreshToken?: string;
  readonly expiresIn: number;
}

export class SignInRefused extends Error {
  override name = "SignInRefused";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A browser's cookie jar, for one sign-in: enough for the identity's own cookies. */
class Cookies {
  private readonly values = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      if (value) this.values.set(name, value);
      else this.values.delete(name);
    }
  }
  header(): string {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export interface SignInOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly email: string;
  readonly password: string;
  readonly scope?: string;
  /** A fetch that trusts the issuer's CA (the kit's CallerVerifier has one). */
  readonly fetch?: typeof fetch;
}

/**
 * Signs a person in as their browser would, for a public client with PKCE: the authorization
 * request, the identity's sign-in form, the redirect with the code, the code for tokens. Used by
 * `make token`, the tests and the benchmark; nothing here is a shortcut the identity offers.
 */
export async function signInWithPassword(options: SignInOptions): Promise<SignInResult> {
  const request = options.fetch ?? fetch;
  const cookies = new Cookies();
  const go = async (url: string, init: RequestInit = {}) => {
    const response = await request(url, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: cookies.header() } });
    cookies.take(response);
    return response;
  };
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(24).toString("base64url");
  const authorize = new URL(`${options.issuer}/auth`);
  for (const [key, value] of Object.entries({
    client_id: options.clientId,
    redirect_uri: options.redirectUri,
    response_type: "code",
    scope: options.scope ?? "openid email profile mutualis api offline_access",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    state,
    nonce: randomBytes(24).toString("base64url"),
    prompt: "login",
  })) {
    authorize.searchParams.set(key, value);
  }
  let response = await go(authorize.href);
  let location = response.headers.get("location");
  if (!location) {
    const message = /role="alert"[^>]*>([^<]+)</.exec(await response.text())?.[1] ?? "";
    throw new SignInRefused(`the authorization request was refused (HTTP ${response.status}) ${message}`.trim(), response.status);
  }
  const interaction = new URL(location, options.issuer);
  await response.arrayBuffer();
  response = await go(`${interaction.href}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email: options.email, password: options.password }).toString(),
  });
  // Follow the identity's redirects until one leaves for the application, with the code.
  for (let hops = 0; hops < 6; hops++) {
    location = response.headers.get("location");
    if (!location) {
      const text = await response.text();
      const message = /role="alert"[^>]*>([^<]+)</.exec(text)?.[1] ?? `HTTP ${response.status}, ${/<h1>([^<]+)</.exec(text)?.[1] ?? "no page"} at ${response.url}`;
      throw new SignInRefused(`the sign-in was refused: ${message}`, response.status);
    }
    await response.arrayBuffer();
    const next = new URL(location, options.issuer);
    if (next.href.startsWith(options.redirectUri)) {
      const code = next.searchParams.get("code");
      if (next.searchParams.get("state") !== state) throw new SignInRefused("the redirect's state does not match", 400);
      if (!code) throw new SignInRefused(`the sign-in ended without a code: ${next.searchParams.get("error_description") ?? next.searchParams.get("error")}`, 400);
      return exchange(request, options, code, verifier);
    }
    response = await go(next.href);
  }
  throw new SignInRefused("the sign-in redirected too many times", 508);
}

async function exchange(request: typeof fetch, options: SignInOptions, code: string, verifier: string): Promise<SignInResult> {
  const response = await request(`${options.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: options.redirectUri, code_verifier: verifier, client_id: options.clientId }).toString(),
  });
  return tokensOf(response);
}

async function tokensOf(response: Response): Promise<SignInResult> {
  const body = (await response.json()) as { access_token?: string; id_token?: string; refresh_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) throw new SignInRefused(`the token request was refused: ${body.error_description ?? body.error ?? response.status}`, response.status);
  return { accessToken: body.access_token, ...(body.id_token ? { idToken: body.id_token } : {}), ...(body.refresh_token ? { refreshToken: body.refresh_token } : {}), expiresIn: body.expires_in ?? 0 };
}

/** A token for the platform's own software (the operator): the client-credentials grant. */
export async function clientCredentials(options: { issuer: string; clientId: string; clientSecret: string; fetch?: typeof fetch }): Promise<SignInResult> {
  const request = options.fetch ?? fetch;
  const response = await request(`${options.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "api" }).toString(),
  });
  return tokensOf(response);
}

/** A new access token from a refresh token. */
export async function refresh(options: { issuer: string; clientId: string; refreshToken: string; fetch?: typeof fetch }): Promise<SignInResult> {
  const request = options.fetch ?? fetch;
  const response = await request(`${options.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: options.refreshToken, client_id: options.clientId }).toString(),
  });
  return tokensOf(response);
}

/**
 * The fields of the page's form carrying oidc-provider's xsrf token: the one named `formId`, or
 * else the first (the page a browser submits by itself).
 */
function formFields(html: string, formId: string): Record<string, string> {
  const forms = [...html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)];
  const form = forms.find((f) => f[1]!.includes(`id="${formId}"`)) ?? forms.find((f) => f[2]!.includes('name="xsrf"'));
  const fields: Record<string, string> = {};
  for (const input of (form?.[2] ?? "").matchAll(/<input[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    if (name) fields[name] = /value="([^"]*)"/.exec(input[0])?.[1] ?? "";
  }
  return fields;
}

/**
 * Approves a device sign-in (what `kubectl`'s credential plugin shows: a page and a code) as the
 * person's browser would: the confirmation page, the identity's sign-in form, to the success
 * page. The tests and the demo use it; a person does the same in their browser.
 */
export async function approveDevice(options: { readonly issuer: string; readonly verificationUriComplete: string; readonly email: string; readonly password: string; readonly fetch?: typeof fetch }): Promise<void> {
  const request = options.fetch ?? fetch;
  const cookies = new Cookies();
  const go = async (url: string, init: RequestInit = {}) => {
    const response = await request(new URL(url, options.issuer).href, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: cookies.header() } });
    cookies.take(response);
    return response;
  };
  const form = (fields: Record<string, string>) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
  // The page opened with the code: the code filled in, sent; then the confirmation, confirmed.
  const opened = await go(options.verificationUriComplete);
  const entered = formFields(await opened.text(), "op.deviceInputForm");
  if (!entered.xsrf) throw new SignInRefused(`the device's page has no form (HTTP ${opened.status})`, opened.status);
  const confirm = await go(`${options.issuer}/device`, form(entered));
  const fields = formFields(await confirm.text(), "op.deviceConfirmForm");
  if (!fields.xsrf) throw new SignInRefused(`the code was not accepted (HTTP ${confirm.status})`, confirm.status);
  let response = await go(`${options.issuer}/device`, form(fields));
  for (let hops = 0; hops < 8; hops++) {
    const location = response.headers.get("location");
    if (!location) {
      const text = await response.text();
      if (response.ok && text.includes("Appareil connecté")) return;
      const login = /<form[^>]*action="([^"]*\/login)"/.exec(text)?.[1];
      if (!login) throw new SignInRefused(`the device's sign-in stopped: ${/role="alert"[^>]*>([^<]+)</.exec(text)?.[1] ?? `HTTP ${response.status}`}`, response.status);
      response = await go(login, form({ email: options.email, password: options.password }));
      continue;
    }
    await response.arrayBuffer();
    response = await go(location);
  }
  throw new SignInRefused("the device's sign-in redirected too many times", 508);
}
