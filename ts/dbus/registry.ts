// Who owns which name: signals carry only the sender's unique name (':1.42'), so it has to be mapped back to the
// service names it owns.

export class NameRegistry {
    private readonly owners = new Map<string, string>();
    private readonly names = new Map<string, Set<string>>();

    get size(): number {
        return this.owners.size;
    }

    /** Unique connection names that own a service name. */
    get ownerCount(): number {
        return this.names.size;
    }

    ownerOf(name: string): string | undefined {
        return this.owners.get(name);
    }

    /** The service names a unique connection name owns (normally one). */
    namesOf(unique: string): ReadonlySet<string> {
        return this.names.get(unique) ?? new Set();
    }

    /** The first service name a unique connection name took (of those it still owns), without allocating. */
    firstNameOf(unique: string): string | undefined {
        const set = this.names.get(unique);
        if (set === undefined)
            return undefined;
        for (const name of set)
            return name;
        return undefined;
    }

    has(name: string): boolean {
        return this.owners.has(name);
    }

    all(): IterableIterator<string> {
        return this.owners.keys();
    }

    set(name: string, owner: string): void {
        this.remove(name);
        this.owners.set(name, owner);
        let set = this.names.get(owner);
        if (!set) {
            set = new Set();
            this.names.set(owner, set);
        }
        set.add(name);
    }

    remove(name: string): void {
        const owner = this.owners.get(name);
        if (owner === undefined)
            return;
        this.owners.delete(name);
        const set = this.names.get(owner);
        set?.delete(name);
        if (set && set.size === 0)
            this.names.delete(owner);
    }

    clear(): void {
        this.owners.clear();
        this.names.clear();
    }
}
