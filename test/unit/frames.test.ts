import { strict as assert } from 'node:assert';

import { encodeFrame, FrameBatch } from '../../ts/native/frames';

describe('publish frames', () => {
    const table: Array<[string, string, string | Uint8Array, 0 | 1 | 2, boolean, string]> = [
        ['plain', 'a/b', 'hi', 0, false, '00 03000000 612f62 02000000 6869'],
        ['retained', 'N/x', '', 0, true, '01 03000000 4e2f78 00000000'],
        ['QoS 1', 't', 'x', 1, false, '02 01000000 74 01000000 78'],
        ['QoS 2 retained', 't', 'x', 2, true, '05 01000000 74 01000000 78'],
        ['UTF-8 topic', 'é', 'ü', 0, false, '00 02000000 c3a9 02000000 c3bc'],
        ['binary payload', 't', new Uint8Array([0, 255]), 0, false, '00 01000000 74 02000000 00ff'],
    ];
    for (const [name, topic, payload, qos, retain, hex] of table) {
        it(`encodes ${name}`, () => {
            assert.equal(encodeFrame(topic, payload, qos, retain).toString('hex'), hex.replace(/ /g, ''));
        });
        if (typeof payload === 'string' && qos === 0) {
            it(`writes ${name} from a topic prefix and the rest`, () => {
                const batch = new FrameBatch().addWithPrefix(Buffer.from(topic.slice(0, 1)), topic.slice(1), payload, retain);
                assert.equal(batch.bytes().toString('hex'), hex.replace(/ /g, ''));
            });
        }
    }

    it('writes item paths and payloads as encodeFrame does: ASCII, UTF-8 at the start, middle and end, short and long', () => {
        const texts = ['', '/a', '{"value":1.5}', 'é/start', 'mid/ü/dle', 'end/€', 'astral/\u{1F600}', 'x'.repeat(95), 'x'.repeat(96),
            'x'.repeat(97), `${'y'.repeat(95)}é`, `${'z'.repeat(200)}€`, 'lone \ud800 surrogate'];
        for (const prefix of [Buffer.from('N/c0619ab00000/battery/900'), Buffer.from(`N/${'p'.repeat(94)}`), Buffer.from(`N/${'p'.repeat(95)}`), Buffer.from(`N/€/${'q'.repeat(300)}`)]) {
            for (const rest of texts) {
                for (const payload of texts) {
                    const topic = `${prefix.toString()}${rest}`;
                    const batch = new FrameBatch().addWithPrefix(prefix, rest, payload, true);
                    assert.equal(batch.bytes().toString('hex'), encodeFrame(topic, payload, 0, true).toString('hex'), `${rest} / ${payload}`);
                }
            }
        }
    });

    it('concatenates a batch and resets it', () => {
        const batch = new FrameBatch().add('a', '1').addFrame(encodeFrame('b', '2', 0, true));
        assert.equal(batch.count, 2);
        assert.equal(batch.byteLength, 22);
        const buf = batch.take();
        assert.equal(buf.toString('hex'), '00010000006101000000310101000000620100000032');
        assert.equal(batch.count, 0);
        assert.equal(batch.byteLength, 0);
    });

    it('keeps its buffer from one batch to the next, and lets go of one an unusual batch made big', () => {
        const batch = new FrameBatch(64, 256);
        batch.addWithPrefix(Buffer.from('N/id/'), 'x', '{"value":1}');
        const first = batch.bytes();
        batch.clear();
        batch.addWithPrefix(Buffer.from('N/id/'), 'y', '{"value":2}');
        assert.equal(batch.bytes().buffer, first.buffer, 'the same memory');
        assert.equal(batch.bytes().toString('hex'), encodeFrame('N/id/y', '{"value":2}').toString('hex'));
        for (let i = 0; i < 20; i++)
            batch.addWithPrefix(Buffer.from('N/id/'), `item/${i}`, '{"value":"a longer value"}');
        const big = batch.bytes();
        assert.ok(big.buffer.byteLength > 256);
        batch.clear();
        batch.add('t', '1');
        assert.notEqual(batch.bytes().buffer, big.buffer, 'a fresh buffer after a big batch');
        assert.equal(batch.count, 1);
    });
});
