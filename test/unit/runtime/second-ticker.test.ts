// The daemon's shared once-a-second ticker (runtime/second-ticker.ts): every subscriber is called
// from the same timer, so the polls riding it cost one wake-up together.
import assert from 'node:assert/strict';
import test from 'node:test';
import { everySecond, secondTickerKeepsAlive, secondTickerSubscribers } from '../../../src/runtime/second-ticker.js';

test('everySecond: subscribers share one timer turn, a failing one does not stop the others, unsubscribing stops it', async () => {
  const turns: string[] = [];
  let sameTurn = false;
  const stopA = everySecond(() => {
    turns.push('a');
    // Still synchronous when b runs in the same timer callback: no other turn in between.
    queueMicrotask(() => {
      sameTurn = turns.slice(-2).join('') === 'ab';
    });
  }, { keepAlive: false });
  const stopFailing = everySecond(() => {
    throw new Error('a poll that fails');
  }, { keepAlive: false });
  const stopB = everySecond(() => turns.push('b'), { keepAlive: false });
  try {
    assert.equal(secondTickerSubscribers(), 3);
    assert.equal(secondTickerKeepsAlive(), false, 'no subscriber asked to keep the process alive');
    const stopAlive = everySecond(() => undefined, { keepAlive: true });
    assert.equal(secondTickerKeepsAlive(), true);
    stopAlive();
    assert.equal(secondTickerKeepsAlive(), false);
    for (let i = 0; i < 40 && turns.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(turns.slice(0, 2), ['a', 'b']);
    await new Promise((r) => setImmediate(r));
    assert.ok(sameTurn, 'both ran in one timer callback');
  } finally {
    stopA();
    stopB();
    stopFailing();
    stopB(); // idempotent
  }
  assert.equal(secondTickerSubscribers(), 0);
  assert.equal(secondTickerKeepsAlive(), undefined, 'no timer once nobody is subscribed');
  const seen = turns.length;
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(turns.length, seen, 'no calls after unsubscribing');
});
