/** Ends an exhaustive switch: adding a union member without handling it fails to compile. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    // Only the discriminant: the value itself may hold personal data.
    super(`Unreachable case: ${String((value as { kind?: unknown } | undefined)?.kind ?? value)}`);
    this.name = "UnreachableCaseError";
  }
}
