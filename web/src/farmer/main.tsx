import { render } from 'preact';
import { VillageStore } from '../store.js';
import { browserDeps } from '../ui/browser.js';
import { FarmerApp } from './App.js';

const root = document.getElementById('app');
if (root) render(<FarmerApp store={new VillageStore(browserDeps())} />, root);
