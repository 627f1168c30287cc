import { describe, expect, it } from 'vitest';
import { jsonUrlFor } from './pypi-api';
import { classifyUploadFailure } from './pypi-upload';

describe('classifyUploadFailure', () => {
  it('reads what twine prints for PyPI answers', () => {
    expect(classifyUploadFailure("ERROR HTTPError: 400 Bad Request from https://upload.pypi.org/legacy/\nFile already exists ('x-1.0.tar.gz', with blake2_256 hash '00')")).toBe('exists');
    expect(classifyUploadFailure('ERROR HTTPError: 429 Too Many Requests from https://upload.pypi.org/legacy/')).toBe('retry');
    expect(classifyUploadFailure('ERROR HTTPError: 503 Service Unavailable from https://upload.pypi.org/legacy/')).toBe('retry');
    expect(classifyUploadFailure("ConnectionError: HTTPSConnectionPool(host='upload.pypi.org', port=443): Max retries exceeded")).toBe('retry');
    expect(classifyUploadFailure('ERROR HTTPError: 403 Forbidden from https://upload.pypi.org/legacy/')).toBe('fail');
    expect(classifyUploadFailure('ERROR InvalidDistribution: Invalid distribution metadata')).toBe('fail');
  });
});

describe('jsonUrlFor', () => {
  it('finds the JSON API of PyPI, TestPyPI and other indexes', () => {
    expect(jsonUrlFor('https://upload.pypi.org/legacy/')).toBe('https://pypi.org');
    expect(jsonUrlFor('https://test.pypi.org/legacy/')).toBe('https://test.pypi.org');
    expect(jsonUrlFor('http://127.0.0.1:8080/legacy/')).toBe('http://127.0.0.1:8080');
  });
});
