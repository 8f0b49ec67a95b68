// The page calling a public endpoint itself, over Gradio's HTTP API (aigc/ui/gan.py reads this file).
//
// Why not a server event: Gradio's page does bookkeeping for every server event (the loading status of each
// of its inputs, kept and refreshed at every later status change of any event); a call made here skips it,
// so the picture follows a slider as fast as the model draws.  At most one call is in flight; moves made
// meanwhile collapse into the latest (as trigger_mode="always_last" does for server events).  The calls
// share a session of their own: without one, Gradio builds a new session, the config of every component,
// for every call.
//
// Why not Gradio's own JS client: the page does not expose the copy bundled in it, and @gradio/client 2.7.0's
// browser build is 65 KB (this file: under 3 KB) that the Space would have to vendor; its Client.connect fetches
// the app's whole config and API description and opens a heartbeat before the first call, where this needs one
// POST and one GET a picture (measured from npm pack @gradio/client@2.7.0, dist/browser.js).
//
// The protocol assumed, tested by tests/test_gan_tab.py against the running app:
//   POST {root}gradio_api/call/{api_name}  {"data": [...], "session_hash": ...}  ->  {"event_id": ...}
//   GET  {root}gradio_api/call/{api_name}/{event_id}  ->  an event stream ending "event: complete\ndata: [...]"
//        (or "event: error"), whose first output is the picture as Gradio's FileData ({"url": ...}).
// A reply of any other shape is reported in the console, never shown as a picture.
//
// An expression: (api_name) => the handler an event's js= runs with the endpoint's arguments.
(apiName) => async (...args) => {
    const state = ((globalThis.aigcDirectCalls ??= {})[apiName] ??= {
        latest: 0, busy: null, session: "direct-" + Math.random().toString(36).slice(2)});
    const ticket = ++state.latest;
    while (state.busy) await state.busy;
    if (ticket !== state.latest) return undefined;  // a later move supersedes this one
    const root = String(window.gradio_config?.root ?? location.origin + "/").replace(/\/?$/, "/");
    const endpoint = root + "gradio_api/call/" + apiName;
    const call = (async () => {
        const posted = await fetch(endpoint, {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({data: args, session_hash: state.session})});
        const {event_id: eventId} = await posted.json();
        if (!eventId) throw new Error(`no event_id from ${endpoint} (HTTP ${posted.status})`);
        const events = await (await fetch(endpoint + "/" + eventId)).text();
        const complete = events.match(/^event: complete\ndata: (.*)$/m);
        if (complete) return JSON.parse(complete[1])[0];
        if (!/^event: error$/m.test(events)) throw new Error(`no complete or error event from ${endpoint}`);
        return undefined;  // the server refused these values: the views that follow show why
    })();
    state.busy = call.catch(() => undefined).then(() => { state.busy = null; });
    return await call.catch(error => { console.error("aigc direct call:", error); return undefined; });
}
