// The local stream keeps what a mapping has not read yet, not every record ever written, and never more than
// its retention (local/dynamodb-streams.ts).
import { describe, expect, it } from 'vitest';
import { Shard, type StreamRecord } from '../../local/dynamodb-streams';

const record = (n: number) => ({ eventID: String(n) }) as unknown as StreamRecord;
const ids = (records: readonly StreamRecord[]) => records.map((r) => Number(r.eventID));

describe('stream shard', () => {
  it('hands each reader every record in order and drops what all readers have passed', () => {
    const shard = new Shard('predictions', () => undefined);
    const fast = { position: 0, name: 'fast' };
    const slow = { position: 0, name: 'slow' };
    shard.addReader(fast);
    shard.addReader(slow);
    for (let n = 0; n < 5000; n++) shard.push(record(n));

    const seen: number[] = [];
    while (fast.position < shard.end) {
      const { records, next } = shard.read(fast.position, 100);
      seen.push(...ids(records));
      fast.position = next;
      shard.compact();
    }
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, n) => n));
    expect(shard.held).toBe(5000); // the slow reader has read nothing yet

    const { records, next } = shard.read(slow.position, 3000);
    slow.position = next;
    shard.compact();
    expect(ids(records)).toEqual(Array.from({ length: 3000 }, (_, n) => n));
    expect(shard.held).toBe(2000);
    expect(ids(shard.read(slow.position, 10).records)).toEqual([3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008, 3009]);
    expect(shard.end).toBe(5000);
  });

  it('keeps the newest records of a stream nobody reads, and says so once', () => {
    const messages: string[] = [];
    const shard = new Shard('orphan', (message) => messages.push(message), 1000);
    for (let n = 0; n < 1010; n++) shard.push(record(n));
    expect(shard.held).toBeLessThanOrEqual(1000);
    expect(messages).toEqual(['orphan: no mapping reads this stream; keeping its newest 1000 records']);
    // A mapping subscribing now starts at the oldest record still held, the newest one among them.
    const { records } = shard.read(0, 2000);
    expect(ids(records).at(-1)).toBe(1009);
    expect(ids(records)[0]).toBe(1010 - records.length);
  });

  // 24 hours of retention on AWS is a count locally: a mapping far behind loses the oldest records, as a
  // mapping 24 hours behind does, and memory stays bounded however slow it is.
  it('never holds more than its retention: a reader that falls behind loses the oldest, logged once, counted', () => {
    const messages: string[] = [];
    const shard = new Shard('predictions', (message) => messages.push(message), 1000);
    const stuck = { position: 0, name: 'aggregate' };
    shard.addReader(stuck);
    let most = 0;
    for (let n = 0; n < 10_000; n++) {
      shard.push(record(n));
      most = Math.max(most, shard.held);
    }
    expect(most).toBe(1000);
    expect(messages).toEqual([
      'predictions: the stream holds at most 1000 records (its local retention; 24 hours on AWS): aggregate fell behind and loses the oldest it had not read',
    ]);
    expect(shard.trimmedUnread).toBe(10_000 - shard.held);
    const { records, next } = shard.read(stuck.position, 5);
    expect(ids(records)[0]).toBe(10_000 - shard.held);
    expect(next).toBe(10_000 - shard.held + 5);
  });
});
