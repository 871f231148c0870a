import { describe, expect, it } from 'vitest';
import { isAdmin, mayUsePool, parseConfig, principalMatches } from '#core/config.ts';

const SESSION = 'arn:aws:sts::111122223333:assumed-role/PlatformAdmin/alice@example.com';

describe('configured principals', () => {
  it('match the caller exactly, and a role ARN matches every session of that role', () => {
    expect(principalMatches(SESSION, SESSION)).toBe(true);
    expect(principalMatches('arn:aws:iam::111122223333:role/PlatformAdmin', SESSION)).toBe(true);
    expect(principalMatches('arn:aws:iam::111122223333:role/team/a/PlatformAdmin', SESSION)).toBe(true);
  });

  it('do not match another role, another account, another partition, a user or a JWT subject', () => {
    expect(principalMatches('arn:aws:iam::111122223333:role/Platform', SESSION)).toBe(false);
    expect(principalMatches('arn:aws:iam::999999999999:role/PlatformAdmin', SESSION)).toBe(false);
    expect(principalMatches('arn:aws-cn:iam::111122223333:role/PlatformAdmin', SESSION)).toBe(false);
    expect(principalMatches('arn:aws:iam::111122223333:user/PlatformAdmin', SESSION)).toBe(false);
    expect(principalMatches('arn:aws:iam::111122223333:role/PlatformAdmin', 'PlatformAdmin')).toBe(false);
    expect(principalMatches('arn:aws:iam::111122223333:role/PlatformAdmin', `${SESSION}/extra`)).toBe(false);
  });

  it('make admins and pool users of role sessions', () => {
    const config = parseConfig({
      admins: ['arn:aws:iam::111122223333:role/PlatformAdmin'],
      pools: { etl: { allowedPrincipals: ['arn:aws:iam::111122223333:role/service-role/Etl'] } },
    });
    expect(isAdmin(config, SESSION)).toBe(true);
    expect(isAdmin(config, 'arn:aws:sts::111122223333:assumed-role/Other/alice')).toBe(false);
    const etl = config.pools.etl;
    if (!etl) throw new Error('no etl pool');
    expect(mayUsePool(etl, 'arn:aws:sts::111122223333:assumed-role/Etl/run-42')).toBe(true);
    expect(mayUsePool(etl, SESSION)).toBe(false);
  });
});
