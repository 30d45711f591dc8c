// This browser's generations in IndexedDB (audio blobs are too big for localStorage): the
// text, voice, settings, words and the WAV, newest first, pruned to the newest KEEP.

const DB_NAME = "f5-tts-web";
const STORE = "generations";
export const KEEP = 50;

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export async function openHistory(name = DB_NAME) {
  const request = indexedDB.open(name, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
  return new History(await done(request));
}

export class History {
  constructor(db) {
    this.db = db;
  }

  store(mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  /** Saves an entry; returns its id. Entries past the newest KEEP are deleted. */
  async add(entry) {
    const id = await done(this.store("readwrite").add({ ...entry, createdAt: entry.createdAt ?? Date.now() }));
    const keys = await done(this.store("readonly").getAllKeys());
    for (const old of keys.slice(0, Math.max(0, keys.length - KEEP))) await this.remove(old);
    return id;
  }

  /** Every entry, newest first. */
  async list() {
    return (await done(this.store("readonly").getAll())).reverse();
  }

  async get(id) {
    return done(this.store("readonly").get(id));
  }

  async remove(id) {
    return done(this.store("readwrite").delete(id));
  }
}
