// Message serials. D-Bus serials are 32-bit and never 0: after 2^32 - 1 the count starts again at 1. A serial
// that is still waiting for its reply is skipped, so that a reply can never be matched to the wrong call (a call
// that waits for months next to billions of others is unlikely, but costs nothing to rule out).

export const MAX_SERIAL = 0xffffffff;

/** The serial after `serial`: one more, or 1 after 2^32 - 1 (0 is no serial). */
export function serialAfter(serial: number): number {
    return serial >= MAX_SERIAL ? 1 : serial + 1;
}

export class Serials {
    private next: number;

    /** `first`: the first serial handed out (tests start near the top to see the wrap). */
    constructor(first = 1) {
        if (!Number.isInteger(first) || first < 1 || first > MAX_SERIAL)
            throw new RangeError(`${first} is no D-Bus serial`);
        this.next = first;
    }

    /** The next serial for which `inUse` is false. */
    take(inUse: (serial: number) => boolean): number {
        let serial = this.next;
        while (inUse(serial))
            serial = serialAfter(serial);
        this.next = serialAfter(serial);
        return serial;
    }
}
