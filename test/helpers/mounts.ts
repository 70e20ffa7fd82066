/**
 * File systems for fault tests. Tests run as root, whom chmod does not stop (TESTING.md): a small
 * tmpfs makes a store fill up, a read-only bind mount makes it unwritable.
 */
import { execFileSync } from 'node:child_process';

export function mountTmpfs(folder: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', folder]);
}

export function mountReadOnly(folder: string): void {
  execFileSync('mount', ['--bind', folder, folder]);
  execFileSync('mount', ['-o', 'remount,ro,bind', folder]);
}

export function unmount(folder: string): void {
  execFileSync('umount', ['-l', folder]);
}
