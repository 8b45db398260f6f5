// The entry module the plugin loads (native/bootstrap.js requires it) inside the broker.
import { loadBinding } from './native/binding';
import { startPlugin } from './plugin';

startPlugin(loadBinding());
