/** The token endpoints of the emulators: Truecaller, Auth0-style OIDC, wgtwo. */
const TOKEN_PATHS = new Set(["/v1/token", "/oauth/token", "/oauth2/token"]);
const TOKEN_FIELDS = ["access_token", "refresh_token", "id_token"] as const;

/**
 * A fetch for the gateway that passes every request through and adds every
 * token a provider's token endpoint issues to `secrets`, so that tests can
 * look for them where they must never be (logs, storage). `onTokenRequest`
 * sees each token request before it is sent.
 */
export function recordIssuedTokens(secrets: Set<string>, onTokenRequest?: (request: Request) => Promise<void> | void) {
  const reading = new Set<Promise<void>>();
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (!TOKEN_PATHS.has(new URL(request.url).pathname)) return fetch(request);
    await onTokenRequest?.(request.clone());
    const response = await fetch(request);
    const read = response
      .clone()
      .json()
      .then((answer: unknown) => {
        const body = (answer ?? {}) as Record<string, unknown>;
        for (const field of TOKEN_FIELDS) if (typeof body[field] === "string") secrets.add(body[field]);
      })
      .catch(() => {});
    reading.add(read);
    void read.finally(() => reading.delete(read));
    return response;
  };
  /** Resolves once every answer seen so far has been read. */
  const settled = () => Promise.all([...reading]).then(() => undefined);
  return { fetch: recording, settled };
}
