// Command-line options of the benchmark scripts: `--name value` and `--flag`.

/** The value after `--name`, or undefined. */
export function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The number after `--name`, or the fallback. */
export function numberOption(name: string, fallback: number): number {
    const value = option(name);
    return value === undefined ? fallback : Number(value);
}

/** Whether `--name` is given. */
export function flag(name: string): boolean {
    return process.argv.includes(`--${name}`);
}
