import { describe, expect, it } from 'vitest';
import { maskSecrets } from './argv-secrets.js';

describe('maskSecrets', () => {
  it('masks the key of a device or policy connection string and keeps the rest', () => {
    expect(maskSecrets('HostName=hub.example.com;DeviceId=pump-17;SharedAccessKey=c2VjcmV0+/a2V5PQ==')).toBe('HostName=hub.example.com;DeviceId=pump-17;SharedAccessKey=***');
    expect(maskSecrets('HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5;GatewayHostName=g')).toBe('HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=***;GatewayHostName=g');
    expect(maskSecrets('HostName=h;DeviceId=d;sharedaccesskey =a2V5')).toBe('HostName=h;DeviceId=d;sharedaccesskey =***');
  });

  it('masks the signature of a SAS token', () => {
    expect(maskSecrets('SharedAccessSignature sr=h%2Fdevices%2Fd&sig=abc%2Bdef%3D&se=1700000000')).toBe('SharedAccessSignature sr=h%2Fdevices%2Fd&sig=***&se=1700000000');
  });

  it('masks a URL password whole, with an @, a space or an encoded character in it, and one given as a query parameter', () => {
    expect(maskSecrets('--store=postgres://devicestreams:s3cr%40t@127.0.0.1:5432/devicestreams')).toBe('--store=postgres://devicestreams:***@127.0.0.1:5432/devicestreams');
    expect(maskSecrets('postgres://u:p@ss@db.example.com/ds')).toBe('postgres://u:***@db.example.com/ds');
    expect(maskSecrets('postgres://u:pa ss@db.example.com/ds')).toBe('postgres://u:***@db.example.com/ds');
    expect(maskSecrets('nats://u:p@10.0.0.5:4222')).toBe('nats://u:***@10.0.0.5:4222');
    expect(maskSecrets('http://user:pw@proxy.plant.local:3128')).toBe('http://user:***@proxy.plant.local:3128');
    expect(maskSecrets('postgres://db.example.com/ds?sslmode=require&password=secret&user=u')).toBe('postgres://db.example.com/ds?sslmode=require&password=***&user=u');
  });

  it('leaves arguments without a secret as they are', () => {
    for (const plain of ['postgres://devicestreams@127.0.0.1/db', 'https://hub.example.com:8443/path?x=1&y=a@b', 'ssh=127.0.0.1:22', '--map', 'HostName=h;DeviceId=d', 'user@host']) {
      expect(maskSecrets(plain)).toBe(plain);
    }
  });
});
