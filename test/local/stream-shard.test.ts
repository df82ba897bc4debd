// The local stream keeps what a mapping has not read yet, not every record ever written (local/dynamodb-streams.ts).
import { describe, expect, it } from 'vitest';
import { MAX_UNREAD_RECORDS, Shard, type StreamRecord } from '../../local/dynamodb-streams';

const record = (n: number) => ({ eventID: String(n) }) as unknown as StreamRecord;
const ids = (records: readonly StreamRecord[]) => records.map((r) => Number(r.eventID));

describe('stream shard', () => {
  it('hands each reader every record in order and drops what all readers have passed', () => {
    const shard = new Shard('predictions', () => undefined);
    const fast = { position: 0 };
    const slow = { position: 0 };
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
    const shard = new Shard('orphan', (message) => messages.push(message));
    for (let n = 0; n < MAX_UNREAD_RECORDS + 10; n++) shard.push(record(n));
    expect(shard.held).toBe(MAX_UNREAD_RECORDS);
    expect(messages).toEqual([`orphan: no mapping reads this stream; keeping its newest ${MAX_UNREAD_RECORDS} records`]);
    // A mapping subscribing now starts at the oldest record still held.
    expect(ids(shard.read(0, 2).records)).toEqual([10, 11]);
  });
});
