import { createOidcEmulator, DEFAULT_OIDC_CLIENT_ID, DEFAULT_OIDC_CLIENT_SECRET, DEFAULT_REDIRECT_URI, oidcEmulatorHelp, type OidcEmulator } from "./oidc-emulator.js";
import type { EmulatorSettings } from "./settings.js";
import { createTruecallerEmulator, DEFAULT_CLIENT_ID, emulatorHelp, type TruecallerEmulator } from "./truecaller-emulator.js";

/** Every provider emulator, each on its own port. */
export interface RunningEmulators {
  readonly truecaller: TruecallerEmulator;
  /** Auth0-style OpenID provider. */
  readonly oidc: OidcEmulator;
  /** wgtwo operator login. */
  readonly wgtwo: OidcEmulator;
  /** The gateway settings that point every provider at its emulator. */
  readonly gatewayEnvironment: Record<string, string>;
  /** The help pages, one per emulator. */
  readonly help: string;
  close(): Promise<void>;
}

/**
 * Starts the Truecaller emulator on `port` and the Auth0 and wgtwo emulators
 * on the next two ports (all on free ports when `port` is 0).
 */
export async function startEmulators({ port, host, publicHost }: EmulatorSettings, log: (line: string) => void): Promise<RunningEmulators> {
  const truecaller = createTruecallerEmulator({ log: (line) => log(`truecaller: ${line}`) });
  const oidc = createOidcEmulator({ flavor: "auth0", publicHost, log: (line) => log(`oidc: ${line}`) });
  const wgtwo = createOidcEmulator({ flavor: "wgtwo", publicHost, log: (line) => log(`wgtwo: ${line}`) });
  const next = (offset: number) => (port === 0 ? 0 : port + offset);
  const close = async () => {
    await Promise.allSettled([truecaller.close(), oidc.close(), wgtwo.close()]);
  };
  try {
    const [{ url: listeningUrl }, { url: oidcUrl }, { url: wgtwoUrl }] = await Promise.all([
      truecaller.listen(port, host),
      oidc.listen(next(1), host),
      wgtwo.listen(next(2), host),
    ]);
    // The OpenID emulators build their URLs from the public host themselves; Truecaller's answers carry none.
    const truecallerUrl = new URL(listeningUrl);
    truecallerUrl.hostname = publicHost.includes(":") ? `[${publicHost}]` : publicHost;
    return {
      truecaller,
      oidc,
      wgtwo,
      gatewayEnvironment: gatewayEnvironmentFor({ truecaller: truecallerUrl.origin, oidcIssuer: oidc.issuer, wgtwo: wgtwoUrl }),
      help: [emulatorHelp(truecallerUrl.origin), oidcEmulatorHelp(oidcUrl, "auth0"), oidcEmulatorHelp(wgtwoUrl, "wgtwo")].join("\n"),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The gateway settings that point every provider at emulators with these addresses. */
export function gatewayEnvironmentFor(emulators: { truecaller: string; oidcIssuer: string; wgtwo: string }): Record<string, string> {
  return {
    TRUECALLER_CLIENT_ID: DEFAULT_CLIENT_ID,
    TRUECALLER_BASE_URL: emulators.truecaller,
    TRUECALLER_VERIFICATION_BASE_URL: emulators.truecaller,
    TRUECALLER_KEYS_URL: `${emulators.truecaller}/v1/key`,
    TRUECALLER_SIGNED_PROFILES: "true",
    OIDC_ISSUER: emulators.oidcIssuer,
    OIDC_CLIENT_ID: DEFAULT_OIDC_CLIENT_ID,
    OIDC_REDIRECT_URI: DEFAULT_REDIRECT_URI,
    WGTWO_CLIENT_ID: DEFAULT_OIDC_CLIENT_ID,
    WGTWO_CLIENT_SECRET: DEFAULT_OIDC_CLIENT_SECRET,
    WGTWO_BASE_URL: emulators.wgtwo,
    WGTWO_REDIRECT_URI: DEFAULT_REDIRECT_URI,
  };
}
