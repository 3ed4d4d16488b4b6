import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { i18n, preferredLanguage } from './i18n/index.svelte.js';
import { keepAppOnThisDevice } from './lib/offline.js';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
// The interface language first (its catalog is a small chunk of its own), so the first screen is
// already in it. If it cannot load, the page opens in English.
await i18n.use(preferredLanguage(), false).catch(() => i18n.use('en', false));
mount(App, { target });
void keepAppOnThisDevice();
