/** The scenarios of `npm run bench`, in the order they run (anchors first; `me` and `refresh` use sessions of earlier logins). */
export const SCENARIO_IDS = [
  "apollo",
  "emulator-pair",
  "verify-new",
  "verify-returning",
  "verify-replay",
  "me",
  "refresh",
] as const;

export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** The scenarios run again at every further `--users` size. */
export const SIZED_SCENARIOS: readonly ScenarioId[] = ["verify-new", "verify-returning"];

/** What one line of the table says, per scenario. */
export const SCENARIO_TITLES: Readonly<Record<ScenarioId, string>> = {
  apollo: "anchor: bare Apollo trivial mutation",
  "emulator-pair": "anchor: emulator token + userinfo pair",
  "verify-new": "verifyTruecaller, new user",
  "verify-returning": "verifyTruecaller, returning user",
  "verify-replay": "verifyTruecaller, replayed request",
  me: "me with a JWT",
  refresh: "refreshSession",
};
