import { describe, expect, it } from 'vitest';
import { createOriginGuard } from './origin.ts';

const policy = {
  bindHost: '127.0.0.1',
  publicUrl: 'http://127.0.0.1:8090',
  allowedOrigins: [],
  allowedHosts: [],
};

describe('origin guard', () => {
  const guard = createOriginGuard(policy);
  it('accepts loopback hosts and origins', () => {
    expect(() => guard({ host: 'localhost:8090' })).not.toThrow();
    expect(() => guard({ host: '[::1]:8090', origin: 'http://localhost:3000' })).not.toThrow();
    expect(() => guard({ host: '127.0.0.1:8090', origin: 'http://127.0.0.1:8090' })).not.toThrow();
  });
  it('refuses a foreign Host or Origin (DNS rebinding) with 403', () => {
    expect(() => guard({ host: 'evil.example.com' })).toThrow(/Host/);
    expect(() => guard({ host: 'localhost:8090', origin: 'http://evil.example.com' })).toThrow(/Origin/);
    expect(() => guard({ host: 'localhost', origin: 'null' })).toThrow(/Origin/);
  });
  it('honours configured hosts and origins', () => {
    const g = createOriginGuard({
      ...policy,
      bindHost: '0.0.0.0',
      publicUrl: 'https://hub.example.com',
      allowedOrigins: ['https://console.example.com'],
    });
    expect(() => g({ host: 'hub.example.com', origin: 'https://console.example.com' })).not.toThrow();
    expect(() => g({ host: 'localhost' })).toThrow();
  });
});
