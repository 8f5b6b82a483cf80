import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * A program from a Debian package (nginx, wrk), installed with apt when missing (as root);
 * null when it cannot be had, so the bench says what it skipped.
 */
export function debianBinary(file, pkg, log) {
  if (fs.existsSync(file)) return file;
  try {
    log(`${pkg} missing: apt-get install ${pkg} ...`);
    execFileSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return fs.existsSync(file) ? file : null;
}
