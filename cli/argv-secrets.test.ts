import { describe, expect, it } from 'vitest';
import { maskSecrets } from './argv-secrets.js';

describe('maskSecrets', () => {
  it('masks the key of a device or policy connection string and keeps the rest', () => {
    expect(maskSecrets('HostName=hub.example.com;DeviceId=pump-17;SharedAccessKey=c2VjcmV0+/a2V5PQ==')).toBe('HostName=hub.example.com;DeviceId=pump-17;SharedAccessKey=***');
    expect(maskSecrets('HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=a2V5;GatewayHostName=g')).toBe('HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=***;GatewayHostName=g');
  });

  it('masks the signature of a SAS token and a URL password, and nothing else', () => {
    expect(maskSecrets('SharedAccessSignature sr=h%2Fdevices%2Fd&sig=abc%2Bdef%3D&se=1700000000')).toBe('SharedAccessSignature sr=h%2Fdevices%2Fd&sig=***&se=1700000000');
    expect(maskSecrets('--store=postgres://devicestreams:s3cr%40t@127.0.0.1:5432/devicestreams')).toBe('--store=postgres://devicestreams:***@127.0.0.1:5432/devicestreams');
    expect(maskSecrets('nats://u:p@10.0.0.5:4222')).toBe('nats://u:***@10.0.0.5:4222');
    for (const plain of ['postgres://devicestreams@127.0.0.1/db', 'https://hub.example.com:8443/path?x=1', 'ssh=127.0.0.1:22', '--map', 'HostName=h;DeviceId=d']) {
      expect(maskSecrets(plain)).toBe(plain);
    }
  });
});
