import { render } from 'preact';
import { VillageStore } from '../store.js';
import { browserDeps } from '../ui/browser.js';
import { Hall } from './Hall.js';

const root = document.getElementById('app');
if (root) render(<Hall store={new VillageStore(browserDeps())} />, root);
