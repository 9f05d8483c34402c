/**
 * Preloaded into Portico by bench/mfa.bench.ts (`node --import`): Portico's clock jumps 90 s ahead
 * on each SIGUSR2. A TOTP code is accepted once per time step and device, so the bench moves every
 * device to a fresh step between rounds instead of waiting 30 s. Only `Date` moves; timers and
 * OpenSSL keep real time. Never used outside the bench.
 */
import process from 'node:process';

const RealDate = Date;
let offsetMs = 0;
process.on('SIGUSR2', () => {
  offsetMs += 90_000;
});
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offsetMs;
  }
}
globalThis.Date = ShiftedDate;
