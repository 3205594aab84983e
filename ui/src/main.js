// main.js: the UI's entry: the hash router over the views. Each view
// takes its state from the URL and returns a function that stops it.
import './style.css';
import { clear, readRoute } from './util.js';
import { queryView } from './query.js';
import { exploreView } from './explore.js';
import { cardinalityView } from './cardinality.js';
import { storageView } from './storage.js';
import { statusView } from './status.js';

const VIEWS = { query: queryView, explore: exploreView, cardinality: cardinalityView, storage: storageView, status: statusView };
const app = document.getElementById('app');
let stop = null;
let current = '';

function route() {
  const { view, params } = readRoute();
  const name = VIEWS[view] ? view : 'query';
  const key = `${name}?${params}`;
  if (key === current) return;
  current = key;
  if (stop) stop();
  clear(app);
  app.setAttribute('data-view', name);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === name);
  stop = VIEWS[name](app, params);
}

window.addEventListener('hashchange', route);
window.addEventListener('popstate', route);
route();
