import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { keepAppOnThisDevice } from './lib/offline.js';

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
mount(App, { target });
void keepAppOnThisDevice();
